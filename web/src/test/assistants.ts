import type { Assistant } from '../lib/assistants'

// An assistant as the server returns it, for the unit tests.

export function assistant(id: string, extra: Partial<Assistant> = {}): Assistant {
  return { id, name: `Assistant ${id}`, description: `What ${id} does`, instructions: null, model: null, tools: null,
    approval_tools: [], starters: [], avatar: '🦉', color: '#0e7490', visibility: 'public', groups: [],
    owner: { id: 'u2', name: 'grace' }, mine: false, documents: [], created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z', ...extra }
}
