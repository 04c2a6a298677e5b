// The rules in force: those from the config file (read-only at run time) and those added through
// the API (stored). Every step's action and parameters are checked when a rule is loaded.
import type { Action } from '../actions/action.js';
import type { Store } from '../store/store.js';
import { checkRule, RuleError, type RuleT } from './rules.js';

export class RuleBook {
  private fileRules: RuleT[] = [];
  private apiRules: RuleT[] = [];
  readonly counts = new Map<string, { matched: number; evaluated: number }>();
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly store: Store,
    private readonly actions: Map<string, Action>,
  ) {}

  /**
   * Validates a rule completely (schema, durations, actions and their parameters, notices). The
   * message names the rule and the path of the bad field: `rule tell-admin: /rules/2/steps/0/with: …`.
   */
  check(input: unknown, where = ''): RuleT {
    try {
      return this.checkInner(input, where);
    } catch (err) {
      const name = (input as { name?: unknown } | null)?.name;
      if (err instanceof RuleError && typeof name === 'string' && name)
        throw new RuleError(`rule ${name}: ${err.message}`);
      throw err;
    }
  }

  private checkInner(input: unknown, where: string): RuleT {
    const rule = checkRule(input, where);
    const checkAction = (path: string, kind: string, params: Record<string, unknown> | undefined) => {
      const action = this.actions.get(kind);
      if (!action)
        throw new RuleError(
          `${path}/action: unknown action ${kind}; one of ${[...this.actions.keys()].join(', ')}`,
        );
      try {
        action.validate(params ?? {});
      } catch (err) {
        throw new RuleError(`${path}/with: ${(err as Error).message}`);
      }
    };
    for (const [phase, steps] of [
      ['steps', rule.steps],
      ['undo', rule.undo ?? []],
    ] as const) {
      steps.forEach((s, i) => checkAction(`${where}/${phase}/${i}`, s.action, s.with));
    }
    (rule.notify ?? []).forEach((n, i) => checkAction(`${where}/notify/${i}`, n.action, n.with));
    return rule;
  }

  setFileRules(inputs: unknown[]): void {
    const rules = inputs.map((r, i) => this.check(r, `/rules/${i}`));
    const names = new Set<string>();
    rules.forEach((r, i) => {
      if (names.has(r.name)) throw new RuleError(`/rules/${i}/name: rule ${r.name} is defined twice`);
      names.add(r.name);
    });
    this.fileRules = rules;
  }

  async load(): Promise<void> {
    const stored = await this.store.apiRules();
    this.apiRules = stored.map((r) => this.check(r.definition, `rule ${r.name}`));
    this.changed();
  }

  /** Called whenever the API rules change (here, or on a replica): the scheduler looks again. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  all(): RuleT[] {
    const fileNames = new Set(this.fileRules.map((r) => r.name));
    return [...this.fileRules, ...this.apiRules.filter((r) => !fileNames.has(r.name))];
  }

  source(name: string): 'file' | 'api' | undefined {
    if (this.fileRules.some((r) => r.name === name)) return 'file';
    if (this.apiRules.some((r) => r.name === name)) return 'api';
    return undefined;
  }

  async put(input: unknown, at: string): Promise<RuleT> {
    const rule = this.check(input);
    if (this.source(rule.name) === 'file')
      throw new RuleError(`/name: rule ${rule.name} comes from the config file; change it there`);
    await this.store.putRule(rule.name, rule, at);
    this.apiRules = [...this.apiRules.filter((r) => r.name !== rule.name), rule];
    this.changed();
    return rule;
  }

  async remove(name: string): Promise<boolean> {
    if (this.source(name) === 'file')
      throw new RuleError(`rule ${name} comes from the config file; remove it there`);
    const removed = await this.store.deleteRule(name);
    this.apiRules = this.apiRules.filter((r) => r.name !== name);
    this.changed();
    return removed;
  }

  count(rule: string, matched: boolean): void {
    const c = this.counts.get(rule) ?? { matched: 0, evaluated: 0 };
    c.evaluated++;
    if (matched) c.matched++;
    this.counts.set(rule, c);
  }
}
