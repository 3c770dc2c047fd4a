import { useState, type FormEvent } from 'react';
import { api } from './api.js';
import { errorText } from './format.js';
import { ErrorBox, OkBox } from './ui.js';

/**
 * 登记改名 (issue 15 item 7): an official records a legal name change from
 * documents (POST /admin/v1/persons/rename). A citizen's login never renames;
 * this is the only way the register's name changes. The identity goes in the
 * JSON body; the answer and the screen carry only the masked name.
 */
export function RenameForm(props: { who: Record<string, string>; onDone: () => Promise<void> }) {
  const [name, setName] = useState('');
  const [basis, setBasis] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setOk(null);
    try {
      const r = await api<{ changed: boolean; name: string; seq: number | null }>('POST', '/admin/v1/persons/rename', { ...props.who, name: name.trim(), reason: basis.trim() });
      setOk(r.changed ? `已登记改名，显示姓名为 ${r.name}${r.seq !== null ? '，将同步至各节点' : ''}。` : '姓名与登记的一致，未作变更。');
      setName('');
      setBasis('');
      await props.onDone();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="transcode" aria-label="登记改名" onSubmit={(e) => void submit(e)}>
      <h3>登记改名</h3>
      <p className="muted">仅用于依法改名等信息变更：须核验户籍或证件材料。市民登录时填写的姓名不会改变登记的姓名。</p>
      <div className="form-row">
        <label>
          新姓名
          <input name="new-name" value={name} onChange={(e) => setName(e.target.value)} maxLength={64} required autoComplete="off" />
        </label>
        <label className="grow">
          变更依据（必填）
          <input name="rename-basis" value={basis} onChange={(e) => setBasis(e.target.value)} maxLength={64} required placeholder="例如：户籍变更证明编号" />
        </label>
        <button type="submit" disabled={busy || name.trim() === '' || basis.trim() === ''}>
          登记改名
        </button>
      </div>
      {ok ? <OkBox>{ok}</OkBox> : null}
      <ErrorBox error={error} />
    </form>
  );
}
