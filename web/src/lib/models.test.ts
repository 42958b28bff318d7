import { describe, expect, it } from 'vitest'
import { chosenModel, contextLabel, modelHints, priceLabel, type Model } from './models'

const model = (id: string, more: Partial<Model> = {}): Model => ({
  id, label: id.toUpperCase(), kind: 'openai', model: `${id}-model`,
  capabilities: { vision: false, tools: true, reasoning: false }, context_window: null, price: null, default: false,
  ...more,
})

describe('chosenModel', () => {
  const models = [model('a'), model('b', { default: true }), model('c')]

  it("is the thread's model while the list has it, else the default", () => {
    expect(chosenModel(models, 'c')?.id).toBe('c')
    expect(chosenModel(models, null)?.id).toBe('b')
    expect(chosenModel(models, 'removed')?.id).toBe('b')
    expect(chosenModel([model('x'), model('y')], null)?.id).toBe('x')
    expect(chosenModel([], 'a')).toBeNull()
  })
})

describe('hints', () => {
  it('say what the model can do, its context and its price', () => {
    expect(modelHints(model('a', { capabilities: { vision: true, tools: true, reasoning: true }, context_window: 128_000,
      price: { input: 1.25, output: 10 } }))).toEqual(['Sees images', 'Tools', 'Reasoning', '128K context',
      '$1.25 / $10 per M tokens'])
    expect(modelHints(model('b', { capabilities: { vision: false, tools: false, reasoning: false } }))).toEqual(['Text only'])
  })

  it('write sizes and prices as people read them', () => {
    expect([8192, 32_000, 131_072, 1_048_576, 2_000_000, 512].map(contextLabel)).toEqual(['8K', '32K', '128K', '1M', '2M', '512'])
    expect(priceLabel({ input: 0, output: 0 })).toBe('Free')
    expect(priceLabel(null)).toBeNull()
  })
})
