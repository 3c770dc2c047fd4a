import { useState, type FormEvent } from 'react';
import { api } from './api.js';
import { fmtTime, ROLE_LABEL } from './format.js';
import { RegionName, RegionPicker } from './regions.js';
import { ConfirmDialog, Empty, ErrorBox, OkBox, Section, useBusy, useLoad } from './ui.js';
import { ExportButton } from './export.js';
import { EXPORT_TABLES } from './export-columns.js';

/**
 * 账号与角色: the province admin creates accounts (a one-time password shown
 * once), changes role and 管辖地区, disables / enables, unlocks and resets
 * passwords (admin-api/routes-account.ts). Every action is audited by the
 * server; destructive ones are confirmed here first.
 */
export interface UserRow {
  username: string;
  role: string;
  regionPrefix: string;
  createdAt: number;
  disabled: boolean;
  lockedUntil: number | null;
  failedAttempts: number;
}

type Pending = { kind: 'disable' | 'enable' | 'unlock' | 'reset'; user: UserRow } | null;

const ACTION_TEXT: Record<NonNullable<Pending>['kind'], string> = {
  disable: '停用', enable: '启用', unlock: '解除锁定', reset: '重置密码',
};

function status(u: UserRow): string {
  if (u.disabled) return '已停用';
  if (u.lockedUntil !== null && u.lockedUntil * 1000 > Date.now()) return `已锁定至 ${fmtTime(u.lockedUntil)}`;
  return '正常';
}

export function UsersPage() {
  const [users, setUsers] = useState<UserRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ username: string; password: string } | null>(null);
  const [pending, setPending] = useState<Pending>(null);
  const { busy, run } = useBusy(setError);
  const [editing, setEditing] = useState<UserRow | null>(null);

  // create form
  const [username, setUsername] = useState('');
  const [role, setRole] = useState('operator');
  const [region, setRegion] = useState('');

  const reload = useLoad(async () => {
    setUsers((await api<{ users: UserRow[] }>('GET', '/admin/v1/users')).users);
  }, setError);

  async function create(e: FormEvent) {
    e.preventDefault();
    setOk(null);
    await run(async () => {
      const body: Record<string, unknown> = { username: username.trim().toLowerCase(), role };
      if (region !== '') body.regionPrefix = region;
      const r = await api<UserRow & { password: string }>('POST', '/admin/v1/users', body);
      setSecret({ username: r.username, password: r.password });
      setUsername('');
      setRegion('');
      await reload();
    });
  }

  async function act() {
    if (!pending) return;
    setOk(null);
    const u = encodeURIComponent(pending.user.username);
    await run(async () => {
      if (pending.kind === 'reset') {
        const r = await api<{ password: string }>('POST', `/admin/v1/users/${u}/reset-password`);
        setSecret({ username: pending.user.username, password: r.password });
      } else {
        await api('POST', `/admin/v1/users/${u}/${pending.kind}`);
        setOk(`已${ACTION_TEXT[pending.kind]}账号 ${pending.user.username}`);
      }
      setPending(null);
      await reload();
    }, { onFail: () => setPending(null) });
  }

  async function saveEdit(e: FormEvent) {
    e.preventDefault();
    if (!editing) return;
    await run(async () => {
      await api('POST', `/admin/v1/users/${encodeURIComponent(editing.username)}`, { role: editing.role, regionPrefix: editing.regionPrefix });
      setOk(`已修改账号 ${editing.username} 的角色与管辖地区，其登录会话已结束`);
      setEditing(null);
      await reload();
    });
  }

  const needsRegion = role === 'city_officer';
  return (
    <>
      <Section title="新建账号">
        <form className="form-row" onSubmit={create} aria-label="新建账号">
          <label>
            用户名
            <input name="new-username" value={username} onChange={(e) => setUsername(e.target.value)} required maxLength={64} placeholder="小写字母、数字、. _ -" />
          </label>
          <label>
            角色
            <select name="new-role" value={role} onChange={(e) => setRole(e.target.value)}>
              {Object.entries(ROLE_LABEL).map(([v, l]) => (
                <option key={v} value={v}>
                  {l}
                </option>
              ))}
            </select>
          </label>
          <label>
            管辖地区{needsRegion ? '（必填）' : '（不选为全省）'}
            <RegionPicker value={region} onChange={setRegion} name="new-region" allowEmpty />
          </label>
          <button type="submit" className="btn-primary" disabled={busy || username.trim() === '' || (needsRegion && region === '')}>
            创建
          </button>
        </form>
        {secret ? (
          <div className="msg msg-warn" role="status" data-testid="one-time-password">
            账号 <strong>{secret.username}</strong> 的初始密码（只显示这一次，请当面或通过安全渠道交给本人）：
            <code className="secret">{secret.password}</code>
            <button type="button" className="btn-link" onClick={() => setSecret(null)}>
              我已记下
            </button>
          </div>
        ) : null}
        {ok ? <OkBox>{ok}</OkBox> : null}
        <ErrorBox error={error} />
      </Section>

      <Section title="账号列表" actions={users ? <ExportButton {...EXPORT_TABLES.users} rows={() => users.map((u) => [u.username, ROLE_LABEL[u.role] ?? u.role, u.regionPrefix || '全省', status(u), fmtTime(u.createdAt)])} /> : null}>
        {users === null ? (
          <Empty>加载中…</Empty>
        ) : users.length === 0 ? (
          <Empty>没有账号</Empty>
        ) : (
          <table data-testid="users">
            <thead>
              <tr>
                <th>用户名</th>
                <th>角色</th>
                <th>管辖地区</th>
                <th>状态</th>
                <th>创建时间</th>
                <th>操作</th>
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr key={u.username} data-user={u.username}>
                  <td className="mono">{u.username}</td>
                  <td>{ROLE_LABEL[u.role] ?? u.role}</td>
                  <td>
                    <RegionName code={u.regionPrefix} />
                  </td>
                  <td>{status(u)}</td>
                  <td>{fmtTime(u.createdAt)}</td>
                  <td className="actions">
                    <button type="button" className="btn-link" onClick={() => setEditing({ ...u })}>
                      修改
                    </button>
                    {u.disabled ? (
                      <button type="button" className="btn-link" onClick={() => setPending({ kind: 'enable', user: u })}>
                        启用
                      </button>
                    ) : (
                      <button type="button" className="btn-link" onClick={() => setPending({ kind: 'disable', user: u })}>
                        停用
                      </button>
                    )}
                    {u.lockedUntil !== null ? (
                      <button type="button" className="btn-link" onClick={() => setPending({ kind: 'unlock', user: u })}>
                        解除锁定
                      </button>
                    ) : null}
                    <button type="button" className="btn-link" onClick={() => setPending({ kind: 'reset', user: u })}>
                      重置密码
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>

      {editing ? (
        <div className="overlay">
          <form className="dialog" role="dialog" aria-modal="true" aria-label="修改账号" onSubmit={saveEdit}>
            <h3>修改账号 {editing.username}</h3>
            <label>
              角色
              <select name="edit-role" value={editing.role} onChange={(e) => setEditing({ ...editing, role: e.target.value })}>
                {Object.entries(ROLE_LABEL).map(([v, l]) => (
                  <option key={v} value={v}>
                    {l}
                  </option>
                ))}
              </select>
            </label>
            <label>
              管辖地区
              <RegionPicker value={editing.regionPrefix} onChange={(c) => setEditing({ ...editing, regionPrefix: c })} name="edit-region" allowEmpty />
            </label>
            <p className="muted">保存后该账号需重新登录，新的权限立即生效。</p>
            <div className="dialog-actions">
              <button type="button" onClick={() => setEditing(null)} disabled={busy}>
                取消
              </button>
              <button type="submit" className="btn-primary" disabled={busy}>
                保存
              </button>
            </div>
          </form>
        </div>
      ) : null}

      {pending ? (
        <ConfirmDialog
          title={`确认${ACTION_TEXT[pending.kind]}`}
          danger={pending.kind === 'disable' || pending.kind === 'reset'}
          busy={busy}
          confirmText={`确认${ACTION_TEXT[pending.kind]}`}
          onCancel={() => setPending(null)}
          onConfirm={() => void act()}
        >
          <p>
            账号：<strong>{pending.user.username}</strong>（{ROLE_LABEL[pending.user.role] ?? pending.user.role}）
          </p>
          {pending.kind === 'disable' ? <p>停用后该账号立即退出登录且无法再登录。</p> : null}
          {pending.kind === 'reset' ? <p>将生成新的一次性密码，旧密码立即失效，该账号的登录会话全部结束。</p> : null}
        </ConfirmDialog>
      ) : null}
    </>
  );
}
