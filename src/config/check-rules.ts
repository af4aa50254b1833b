// The change-propagation part of the config check: rule files (exist, parse, no file twice,
// no rule name twice), inline rules, an exec in every rule, the dependency graph (unknown
// resources, cycles) and the purge targets. Compiling is left to src/changeprop's loaders;
// their errors are placed at the config line they come from.
import { resolve } from 'node:path';
import { ConfigError } from './load.ts';
import type { ProblemList } from './check.ts';
import type { CascadeConfig } from './schema.ts';
import { compileRuleMap, loadRuleFile, type Rule } from '../changeprop/rule.ts';
import { checkDependencies } from '../changeprop/deps.ts';
import { explainRules } from '../changeprop/service.ts';
import { deriveAllRules } from '../resources/rules.ts';

export function checkChangeprop(cfg: CascadeConfig, p: ProblemList): void {
  const cp = cfg.changeprop;
  const before = p.list.length;
  const rules: { rule: Rule; path: (string | number)[] }[] = [];
  const files = new Map<string, number>();
  cp.rule_files.forEach((f, i) => {
    const path = ['changeprop', 'rule_files', i];
    const abs = resolve(f);
    const prev = files.get(abs);
    if (prev !== undefined) return p.at(path, `rule file ${f} is listed twice (also rule_files[${prev}])`);
    files.set(abs, i);
    try {
      for (const rule of loadRuleFile(f)) rules.push({ rule, path });
    } catch (e) {
      if (e instanceof ConfigError) {
        // "cannot read" has no position in the rule file: point at the config's list entry.
        for (const q of e.problems) {
          if (q.line > 0) p.list.push(q);
          else p.at(path, `rule file ${f}: ${q.message}`);
        }
      } else p.at(path, `rule file ${f}: ${(e as Error).message}`);
    }
  });
  if (Object.keys(cp.templates).length > 0) {
    try {
      for (const rule of compileRuleMap(cp.templates, p.file, p.locate, ['changeprop', 'templates'])) {
        rules.push({ rule, path: ['changeprop', 'templates', rule.name] });
      }
    } catch (e) {
      if (e instanceof ConfigError) p.adopt(e, ['changeprop', 'templates']);
      else p.at(['changeprop', 'templates'], (e as Error).message);
    }
  }
  const seen = new Map<string, Rule>();
  for (const { rule, path } of rules) {
    const prev = seen.get(rule.name);
    if (prev) at(p, rule, path, `rule '${rule.name}' is declared twice (also at ${prev.file}:${prev.line})`);
    else seen.set(rule.name, rule);
    rule.cases.forEach((c, i) => {
      if (c.exec.length === 0) {
        at(p, rule, path, `rule '${rule.name}'${rule.cases.length > 1 ? `, case ${i}` : ''}: no 'exec' (a rule must request something)`);
      }
    });
  }
  checkDeps(cfg, p);
  cp.purge.targets.forEach((t, i) => {
    if (!/^https?:\/\//i.test(t) || !URL.canParse(t)) p.at(['changeprop', 'purge', 'targets', i], `not an http(s) URL: ${t}`);
  });
  // Whatever else serve's rule assembly refuses (derived rules, replacements), once the rest is clean.
  if (p.list.length === before) {
    try {
      explainRules(cfg.changeprop, deriveAllRules(cfg));
    } catch (e) {
      if (e instanceof ConfigError) p.adopt(e, ['changeprop']);
      else p.at(['changeprop'], (e as Error).message);
    }
  }
}

/** A problem at a rule: its own file and line, or (inline rules) the config path. */
function at(p: ProblemList, rule: Rule, path: (string | number)[], message: string): void {
  if (rule.file !== p.file && rule.line > 0) p.list.push({ file: rule.file, line: rule.line, column: 1, path: rule.name, message });
  else p.at(path, message);
}

/** changeprop.dependencies: each problem at the resource it is about. */
function checkDeps(cfg: CascadeConfig, p: ProblemList): void {
  const deps = cfg.changeprop.dependencies ?? {};
  try {
    checkDependencies(deps);
  } catch (e) {
    if (!(e instanceof ConfigError)) return p.at(['changeprop', 'dependencies'], (e as Error).message);
    for (const q of e.problems) {
      // Messages name the resource first: "'summary' depends on …", "dependency cycle: a → b → a".
      const res = /^'([^']+)'/.exec(q.message)?.[1] ?? /^dependency cycle: ([^ ]+)/.exec(q.message)?.[1];
      const path = ['changeprop', 'dependencies', ...(res !== undefined && Object.hasOwn(deps, res) ? [res] : [])];
      // An unknown dependency points at its own list entry.
      const dep = /depends on unknown '([^']+)'|cannot depend on '([^']+)'|'([^']+)' depends on itself/.exec(q.message);
      const name = dep?.[1] ?? dep?.[2] ?? dep?.[3];
      const idx = res !== undefined && name !== undefined && Object.hasOwn(deps, res) ? (deps[res] ?? []).indexOf(name) : -1;
      p.at(idx >= 0 ? [...path, idx] : path, q.message);
    }
  }
}
