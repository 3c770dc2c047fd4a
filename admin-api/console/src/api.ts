/**
 * The one way the console talks to admin-api: same origin, JSON, bearer token.
 *
 * The token lives in memory and in sessionStorage (this tab only, gone when
 * the tab closes; never localStorage, never a cookie): a page reload keeps
 * the officer logged in, a second tab or a shared computer's next user does
 * not inherit the session. A 401 on any call (token expired, idle-timed-out
 * on the server, or revoked) ends the session in the console at once.
 */

export interface ErrorBody {
  error: string;
  message: string;
  field?: string;
  /** Chinese text for people (admin-api/error-zh.ts): the only text the console shows */
  zh?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly zh?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface Session {
  token: string;
  username: string;
  role: string | null;
  /** unix seconds: absolute end of the token */
  expiresAt: number | null;
  /** seconds without activity after which the console logs out */
  idleSec: number;
}

const STORE_KEY = 'hc-console-session';
/** admin-api's ADMIN_IDLE_TIMEOUT_SEC default (admin-api/config.ts): 15 minutes. */
export const DEFAULT_IDLE_SEC = 900;

let current: Session | null = null;
let onUnauthorized: ((reason: 'expired') => void) | null = null;

export function loadSession(): Session | null {
  if (current) return current;
  try {
    const raw = sessionStorage.getItem(STORE_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    if (typeof s.token !== 'string' || typeof s.username !== 'string') return null;
    if (s.expiresAt !== null && s.expiresAt * 1000 <= Date.now()) {
      sessionStorage.removeItem(STORE_KEY);
      return null;
    }
    current = s;
    return s;
  } catch {
    return null;
  }
}

export function saveSession(s: Session): void {
  current = s;
  try {
    sessionStorage.setItem(STORE_KEY, JSON.stringify(s));
  } catch {
    // storage disabled: memory only, a reload asks to log in again
  }
}

export function clearSession(): void {
  current = null;
  try {
    sessionStorage.removeItem(STORE_KEY);
  } catch {
    // ignore
  }
}

export function setUnauthorizedHandler(f: ((reason: 'expired') => void) | null): void {
  onUnauthorized = f;
}

async function send(method: string, path: string, body: unknown, auth: boolean): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (auth && current) headers.authorization = `Bearer ${current.token}`;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'NETWORK', '无法连接服务器，请检查网络后重试');
  }
  if (res.status === 401 && auth) {
    clearSession();
    onUnauthorized?.('expired');
  }
  return res;
}

async function failure(res: Response): Promise<ApiError> {
  let body: Partial<ErrorBody> = {};
  try {
    body = (await res.json()) as Partial<ErrorBody>;
  } catch {
    // not JSON (a proxy's error page): fall through with the status
  }
  return new ApiError(res.status, body.error ?? `HTTP_${res.status}`, body.message ?? res.statusText, body.field, body.zh);
}

/** JSON call; throws ApiError for any non-2xx answer. */
export async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const res = await send(method, path, body, true);
  if (!res.ok) throw await failure(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** Binary download (QR images) with the bearer token: a plain <a href> cannot carry it. */
export async function apiBlob(path: string): Promise<Blob> {
  const res = await send('GET', path, undefined, true);
  if (!res.ok) throw await failure(res);
  return res.blob();
}

/** Binary answer of a POST with a JSON body (XLSX exports, PDF posters). */
export async function apiBlobPost(path: string, body: unknown): Promise<Blob> {
  const res = await send('POST', path, body, true);
  if (!res.ok) throw await failure(res);
  return res.blob();
}

export interface LoginAnswer {
  token: string;
  expiresAt?: number;
  role?: string;
  idleTimeoutSec?: number;
  username?: string;
}

export async function login(username: string, password: string): Promise<Session> {
  const res = await send('POST', '/admin/v1/login', { username, password }, false);
  if (!res.ok) throw await failure(res);
  const a = (await res.json()) as LoginAnswer;
  const s: Session = {
    token: a.token,
    username: a.username ?? username,
    role: a.role ?? null,
    expiresAt: typeof a.expiresAt === 'number' ? a.expiresAt : null,
    idleSec: typeof a.idleTimeoutSec === 'number' && a.idleTimeoutSec > 0 ? a.idleTimeoutSec : DEFAULT_IDLE_SEC,
  };
  saveSession(s);
  return s;
}

/** Tells the server to drop the token; the console forgets it whatever the answer. */
export async function logout(): Promise<void> {
  const s = current;
  clearSession();
  if (!s) return;
  try {
    await fetch('/admin/v1/logout', { method: 'POST', headers: { authorization: `Bearer ${s.token}` }, credentials: 'omit' });
  } catch {
    // the token dies by idle timeout anyway
  }
}
