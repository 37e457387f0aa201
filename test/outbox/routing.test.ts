import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config'
import { routeOf, topicFor, topicTemplateProblem } from '../../src/outbox'

describe('routing', () => {
  it('fills the template with the aggregate type; a row topic overrides it', () => {
    expect(topicFor('{aggregate_type}.events', 'shipment')).toBe('shipment.events')
    expect(routeOf({ aggregateType: 'orders' }, '{aggregate_type}.events')).toBe('orders.events')
    expect(
      routeOf({ aggregateType: 'orders', topic: 'audit.log' }, '{aggregate_type}.events'),
    ).toBe('audit.log')
    expect(routeOf({ aggregateType: 'orders', topic: null }, 'all-events')).toBe('all-events')
  })

  it('accepts a template with the placeholder or one valid topic name, nothing else', () => {
    expect(topicTemplateProblem('{aggregate_type}.events')).toBeUndefined()
    expect(topicTemplateProblem('prod.{aggregate_type}')).toBeUndefined()
    expect(topicTemplateProblem('everything')).toBeUndefined()
    expect(topicTemplateProblem('no spaces')).toMatch(/must contain \{aggregate_type\}/)
    expect(topicTemplateProblem('{aggregate_type}/events')).toMatch(/around/)
    expect(topicTemplateProblem('')).toBeDefined()
  })

  it('KAFKA_TOPIC_TEMPLATE is validated at start, listed with the other problems', () => {
    expect(loadConfig({}).kafka).toMatchObject({
      topicTemplate: '{aggregate_type}.events',
      topic: 'orders.events',
      inventoryTopic: 'inventory.events',
    })
    expect(() => loadConfig({ KAFKA_TOPIC_TEMPLATE: 'bad topic', PORT: 'x' })).toThrow(
      /KAFKA_TOPIC_TEMPLATE[\s\S]*PORT|PORT[\s\S]*KAFKA_TOPIC_TEMPLATE/,
    )
  })
})
