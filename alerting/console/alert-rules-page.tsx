import { useCallback, useEffect, useState } from 'react';
import { api } from '../../admin-api/console/src/api.js';
import { Empty, ErrorBox, OkBox, Section } from '../../admin-api/console/src/ui.js';
import { alertErrorText, fmtDuration, RECIPIENTS_LABEL, SEVERITY_LABEL } from './alerting-format.js';

/**
 * 告警规则: the rules (data, alerting/rules.ts): condition, for-duration,
 * severity, recipients, grouping, repeat and escalation. An editor with
 * alerts.write can switch a rule on or off, change its threshold, or add a
 * rule as JSON; the server validates (ALR_ERR_RULE_INVALID names the part).
 */
interface Rule {
  id: string;
  name: string;
  enabled: boolean;
  severity: string;
  condition: { type: 'event'; source?: string; kind?: string; minSeverity?: string } | { type: 'metric'; metric: string; op: string; value: number };
  forSec: number;
  recipients: string;
  groupBy: string[];
  groupWaitSec: number;
  repeatSec: number;
  resolveAfterSec: number;
  escalateAfterSec: number;
  escalateTo: string;
}

const GROUP_LABEL: Record<string, string> = { source: '来源', kind: '类型', region: '地区', key: '对象' };

function conditionText(r: Rule, metrics: Record<string, string>): string {
  const c = r.condition;
  if (c.type === 'metric') return `${metrics[c.metric] ?? c.metric} ${c.op} ${c.value}`;
  const parts = [c.source ? `来源 ${c.source}` : '', c.kind ? `类型 ${c.kind}` : '', c.minSeverity ? `级别不低于${SEVERITY_LABEL[c.minSeverity]}` : ''].filter(Boolean);
  return `事件：${parts.join('，') || '全部'}`;
}

const NEW_RULE = JSON.stringify({
  id: 'exchange-rejects', name: '数据交换拒收', enabled: true, severity: 'critical',
  condition: { type: 'event', source: 'exchange', kind: 'exchange.*' }, forSec: 0, recipients: 'oncall', groupBy: ['kind'],
  groupWaitSec: 30, repeatSec: 3600, resolveAfterSec: 600, escalateAfterSec: 1800, escalateTo: 'escalation',
}, null, 2);

export function AlertRulesPage({ canWrite }: { canWrite: boolean }) {
  const [rules, setRules] = useState<Rule[] | null>(null);
  const [metrics, setMetrics] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  const [json, setJson] = useState(NEW_RULE);

  const load = useCallback(async () => {
    try {
      const r = await api<{ rules: Rule[]; metrics: Record<string, string> }>('GET', '/admin/v1/alerting/rules');
      setRules(r.rules);
      setMetrics(r.metrics);
    } catch (e) {
      setError(alertErrorText(e));
    }
  }, []);
  useEffect(() => void load(), [load]);

  async function save(rule: Rule) {
    setError(null);
    try {
      await api('PUT', `/admin/v1/alerting/rules/${rule.id}`, rule);
      setOk(`规则「${rule.name}」已保存`);
      await load();
    } catch (e) {
      setError(alertErrorText(e));
    }
  }

  async function saveJson() {
    let rule: Rule;
    try {
      rule = JSON.parse(json) as Rule;
    } catch {
      setError('规则内容不是有效的 JSON');
      return;
    }
    await save(rule);
  }

  return (
    <div>
      <ErrorBox error={error} />
      {ok ? <OkBox>{ok}</OkBox> : null}
      <Section title="告警规则">
        {rules === null ? <Empty>加载中…</Empty> : (
          <table className="table" data-testid="alert-rules">
            <thead>
              <tr><th>启用</th><th>名称</th><th>级别</th><th>条件</th><th>持续</th><th>通知</th><th>分组</th><th>重复间隔</th><th>升级</th></tr>
            </thead>
            <tbody>
              {rules.map((r) => (
                <tr key={r.id}>
                  <td>
                    <input type="checkbox" checked={r.enabled} disabled={!canWrite} aria-label={`启用 ${r.name}`} onChange={() => void save({ ...r, enabled: !r.enabled })} />
                  </td>
                  <td>{r.name}</td>
                  <td>{SEVERITY_LABEL[r.severity] ?? r.severity}</td>
                  <td>
                    {conditionText(r, metrics)}
                    {canWrite && r.condition.type === 'metric' ? (
                      <button type="button" onClick={() => {
                        const v = window.prompt('新阈值', String((r.condition as { value: number }).value));
                        if (v !== null && v.trim() !== '' && Number.isFinite(Number(v))) void save({ ...r, condition: { ...(r.condition as { type: 'metric'; metric: string; op: string; value: number }), value: Number(v) } });
                      }}>改阈值</button>
                    ) : null}
                  </td>
                  <td>{r.forSec === 0 ? '立即' : fmtDuration(r.forSec * 1000)}</td>
                  <td>{RECIPIENTS_LABEL[r.recipients] ?? r.recipients}（等待{r.groupWaitSec}秒合并）</td>
                  <td>{r.groupBy.length === 0 ? '规则' : r.groupBy.map((g) => GROUP_LABEL[g] ?? g).join('、')}</td>
                  <td>{fmtDuration(r.repeatSec * 1000)}</td>
                  <td>{r.escalateAfterSec === 0 ? '不升级' : `${fmtDuration(r.escalateAfterSec * 1000)}未确认 → ${RECIPIENTS_LABEL[r.escalateTo] ?? r.escalateTo}`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {canWrite ? (
        <Section title="新增或修改规则（JSON）">
          <textarea rows={14} cols={80} value={json} onChange={(e) => setJson(e.target.value)} aria-label="规则 JSON" />
          <div><button type="button" onClick={() => void saveJson()}>保存规则</button></div>
        </Section>
      ) : null}
    </div>
  );
}
