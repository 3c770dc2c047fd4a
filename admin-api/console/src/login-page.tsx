import { useState, type FormEvent } from 'react';
import { login, type Session } from './api.js';
import { errorText } from './format.js';
import { ErrorBox } from './ui.js';

export function LoginPage({ notice, onLogin }: { notice: string | null; onLogin: (s: Session) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await login(username.trim(), password);
      setPassword('');
      onLogin(s);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="login-wrap">
      <form className="login card" onSubmit={submit} aria-label="登录">
        <h1>健康码管理后台</h1>
        <p className="muted">仅限授权工作人员使用，所有操作均记录审计日志。</p>
        {notice ? (
          <div className="msg msg-warn" role="status" data-testid="session-notice">
            {notice}
          </div>
        ) : null}
        <label>
          用户名
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required />
        </label>
        <label>
          密码
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        <ErrorBox error={error} />
        <button type="submit" className="btn-primary" disabled={busy || username.trim() === '' || password === ''}>
          {busy ? '登录中…' : '登录'}
        </button>
      </form>
    </div>
  );
}
