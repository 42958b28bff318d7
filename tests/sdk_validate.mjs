// The AI SDK's own check of stored messages, as useChat takes them when a thread is reopened:
// validateUIMessages on the JSON array read from stdin (each part against the SDK's schema).
// Usage: node sdk_validate.mjs < messages.json — prints OK, or exits 1 with the SDK's error.
import { validateUIMessages } from 'ai';

let input = '';
for await (const chunk of process.stdin) input += chunk;
try {
  await validateUIMessages({ messages: JSON.parse(input) });
  console.log('OK');
} catch (error) {
  console.error('INVALID:', error?.message ?? error);
  process.exit(1);
}
