// Public surface of change propagation.
export { loadRuleFile, rulesFromYaml, compileRuleMap, compileRulesFrom, routeEvent, resolveRuleStreams } from './rule.ts';
export type { Rule, RuleCase, TopicSelector, RouteResult } from './rule.ts';
export { compileStringTemplate, compileValueTemplate, compileRequestTemplate } from './template.ts';
export { compileMatch, compileMatchNot } from './match.ts';
export { ChangepropErrors } from './errors.ts';
export { changepropConfigSchema, type ChangepropConfig } from './config.ts';
