import { useCallback, useEffect, useRef } from 'react';
import { alertErrorText } from './alerting-format.js';

/**
 * The alerting pages show live state: `fetch` runs when the page opens and
 * every `everyMs` while it stays open; a failure goes to `onError` as the
 * Chinese text the page's error box shows. Returns the reload the page's
 * 刷新 button and its writes call.
 */
export function usePolling(everyMs: number, fetch: () => Promise<void>, onError: (text: string) => void): () => Promise<void> {
  // the latest callbacks, without restarting the timer on every render
  const latest = useRef({ fetch, onError });
  latest.current = { fetch, onError };
  const load = useCallback(async () => {
    try {
      await latest.current.fetch();
    } catch (e) {
      latest.current.onError(alertErrorText(e));
    }
  }, []);
  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), everyMs);
    return () => clearInterval(t);
  }, [load, everyMs]);
  return load;
}
