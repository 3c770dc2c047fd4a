import { Suspense, useCallback, useEffect, useRef, useState } from 'react';
import { loadSession, logout, setUnauthorizedHandler, type Session } from './api.js';
import { ROLE_LABEL } from './format.js';
import { LoginPage } from './login-page.js';
import { PAGES } from './pages.js';
import { consoleCan, type Permission } from './roles.js';

/**
 * Shell: login gate, navigation (hash routes, so the server serves one
 * index.html and needs no fallback), session end on 401 and on inactivity.
 *
 * The navigation shows only what the account's role may do, with the same
 * table the server enforces (src/roles.ts, checked against admin-api/roles.ts
 * by a test); the server's 403 stays the real check.
 */
function allowed(role: string | null, perm: Permission | 'any'): boolean {
  return perm === 'any' || consoleCan(role, perm);
}

function pageFromHash(): string {
  const h = location.hash.replace(/^#\/?/, '');
  return PAGES.some((p) => p.id === h) ? h : '';
}

const ACTIVITY_EVENTS = ['pointerdown', 'keydown', 'wheel', 'touchstart'] as const;

export function App() {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const [notice, setNotice] = useState<string | null>(null);
  const [page, setPage] = useState<string>(() => pageFromHash());
  const lastActivity = useRef(Date.now());

  const end = useCallback((message: string | null) => {
    void logout();
    setSession(null);
    setNotice(message);
  }, []);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setSession(null);
      setNotice('登录已失效（超时或已在别处退出），请重新登录。');
    });
    return () => setUnauthorizedHandler(null);
  }, []);

  useEffect(() => {
    const onHash = () => setPage(pageFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  // Idle timeout: the server drops a token unused for ADMIN_IDLE_TIMEOUT_SEC;
  // the console also ends the session after that long without keyboard or
  // pointer activity, so an unattended screen does not keep showing personal data.
  useEffect(() => {
    if (!session) return;
    const touch = () => {
      lastActivity.current = Date.now();
    };
    touch();
    for (const ev of ACTIVITY_EVENTS) window.addEventListener(ev, touch, { passive: true });
    const timer = setInterval(() => {
      if (Date.now() - lastActivity.current >= session.idleSec * 1000) {
        end(`您已超过 ${Math.round(session.idleSec / 60)} 分钟未操作，为保护个人信息已自动退出，请重新登录。`);
      } else if (session.expiresAt !== null && Date.now() >= session.expiresAt * 1000) {
        end('登录已到期，请重新登录。');
      }
    }, 5_000);
    return () => {
      clearInterval(timer);
      for (const ev of ACTIVITY_EVENTS) window.removeEventListener(ev, touch);
    };
  }, [session, end]);

  if (!session) {
    return (
      <LoginPage
        notice={notice}
        onLogin={(s) => {
          setNotice(null);
          setSession(s);
        }}
      />
    );
  }

  const visible = PAGES.filter((p) => allowed(session.role, p.perm));
  const current = visible.find((p) => p.id === page) ?? visible[0];
  const groups = [...new Set(visible.map((p) => p.group))];
  const can = (perm: Permission): boolean => allowed(session.role, perm);

  return (
    <div className="shell">
      <header className="topbar">
        <div className="brand">健康码管理后台</div>
        <div className="who">
          <span data-testid="whoami">{session.username}</span>
          {session.role ? <span className="muted">（{ROLE_LABEL[session.role] ?? session.role}）</span> : null}
          <button type="button" className="btn-link" onClick={() => end('您已退出登录。')}>
            退出
          </button>
        </div>
      </header>
      <nav className="sidenav" aria-label="功能">
        {groups.map((g) => (
          <div key={g} className="navgroup">
            <div className="navgroup-title">{g}</div>
            {visible
              .filter((p) => p.group === g)
              .map((p) => (
                <a key={p.id} href={`#/${p.id}`} className={p.id === current?.id ? 'active' : ''} data-page={p.id}>
                  {p.title}
                </a>
              ))}
          </div>
        ))}
      </nav>
      <main className="content">
        {current === undefined ? <p>当前账户没有可用的功能。</p> : null}
        {current === undefined ? null : (
          <div key={current.id}>
            <Suspense fallback={<p className="muted">加载中…</p>}>{current.render({ can })}</Suspense>
          </div>
        )}
      </main>
    </div>
  );
}
