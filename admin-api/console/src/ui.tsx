import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { COLOR_LABEL, COLORS, errorText, REASON_LABEL, type Color } from './format.js';

/** Small shared pieces: colour badge, message boxes, confirmation dialog, the busy state of a page's writes. */

export function ColorBadge({ color }: { color: string | null | undefined }) {
  if (!color) return <span className="badge">—</span>;
  return (
    <span className={`badge badge-${color}`} data-color={color}>
      {COLOR_LABEL[color] ?? color}
    </span>
  );
}

export function ErrorBox({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <div className="msg msg-error" role="alert">
      {error}
    </div>
  );
}

export function OkBox({ children }: { children: ReactNode }) {
  return (
    <div className="msg msg-ok" role="status">
      {children}
    </div>
  );
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="card">
      <header className="card-head">
        <h2>{title}</h2>
        {actions ? <div className="card-actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

/**
 * Modal confirmation for writes that change someone's code or every edge's
 * rules: the officer sees what will happen and confirms it explicitly.
 * Escape cancels; focus starts on 取消 so a stray Enter does not confirm.
 */
export function ConfirmDialog(props: {
  title: string;
  children: ReactNode;
  confirmText?: string;
  danger?: boolean;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  // the latest onCancel, without re-running the mount effect (which would steal focus on every render)
  const cancel = useRef(props.onCancel);
  cancel.current = props.onCancel;
  useEffect(() => {
    cancelRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') cancel.current();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  return (
    <div className="overlay">
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby="dlg-title">
        <h3 id="dlg-title">{props.title}</h3>
        <div className="dialog-body">{props.children}</div>
        <div className="dialog-actions">
          <button type="button" ref={cancelRef} onClick={props.onCancel} disabled={props.busy}>
            取消
          </button>
          <button
            type="button"
            className={props.danger ? 'btn-danger' : 'btn-primary'}
            data-testid="confirm"
            onClick={props.onConfirm}
            disabled={props.busy}
          >
            {props.busy ? '处理中…' : props.confirmText ?? '确认'}
          </button>
        </div>
      </div>
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

/**
 * A page's writes: `run(fn)` marks the page busy (its buttons disabled),
 * clears the error box and, when `fn` fails, shows the server's Chinese
 * text there (`setError`: another box than the page's, e.g. the transcode
 * form's) after `onFail` (e.g. close the dialog that asked).
 */
export function useBusy(setPageError: (text: string | null) => void) {
  const [busy, setBusy] = useState(false);
  // stable, so a page's useCallback may call it
  const run = useCallback(async (fn: () => Promise<void>, opts: { setError?: (text: string | null) => void; onFail?: () => void } = {}): Promise<void> => {
    const setError = opts.setError ?? setPageError;
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      opts.onFail?.();
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }, [setPageError]);
  return { busy, run };
}

/** The target-colour radios of a transcode form (one person or a bulk request). */
export function ColorPick({ name, value, onChange }: { name: string; value: Color; onChange: (c: Color) => void }) {
  return (
    <fieldset className="color-pick">
      <legend>目标颜色</legend>
      {COLORS.map((c) => (
        <label key={c} className={`pick pick-${c}`}>
          <input type="radio" name={name} value={c} checked={value === c} onChange={() => onChange(c)} />
          {COLOR_LABEL[c]}
        </label>
      ))}
    </fieldset>
  );
}

/** Common transcode reasons by their Chinese label: picking one fills the reason; （自行填写） leaves it to the input beside. */
export function ReasonPick({ name, reasons, value, onChange }: { name: string; reasons: readonly string[]; value: string; onChange: (r: string) => void }) {
  return (
    <select name={name} value={REASON_LABEL[value] ? value : ''} onChange={(e) => onChange(e.target.value)}>
      <option value="">（自行填写）</option>
      {reasons.map((r) => (
        <option key={r} value={r}>
          {REASON_LABEL[r] ?? r}
        </option>
      ))}
    </select>
  );
}

/**
 * A page's data: `load` runs when the page opens, and every `everyMs` while
 * it stays open for the live pages; a failure goes to `onError` as the
 * Chinese text (`toText`: a capability's own catalogue first). Returns the
 * reload its 刷新 button and its writes call.
 */
export function useLoad(
  load: () => Promise<void>,
  onError: (text: string) => void,
  opts: { everyMs?: number; toText?: (e: unknown) => string } = {},
): () => Promise<void> {
  // the latest callbacks, without re-running the effect (and restarting the timer) on every render
  const latest = useRef({ load, onError, toText: opts.toText ?? errorText });
  latest.current = { load, onError, toText: opts.toText ?? errorText };
  const reload = useCallback(async () => {
    try {
      await latest.current.load();
    } catch (e) {
      latest.current.onError(latest.current.toText(e));
    }
  }, []);
  const everyMs = opts.everyMs;
  useEffect(() => {
    void reload();
    if (everyMs === undefined) return undefined;
    const t = setInterval(() => void reload(), everyMs);
    return () => clearInterval(t);
  }, [reload, everyMs]);
  return reload;
}
