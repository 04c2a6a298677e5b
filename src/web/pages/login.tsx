// Log in with an operator token. The token is checked against the hub before it is kept.
import { useState } from 'preact/hooks';
import { api, ApiError, setToken } from '../api.js';
import type { Me } from '../app.js';

export function Login({ onLogin }: { onLogin: (me: Me) => void }) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const input = (e.currentTarget as HTMLFormElement).elements.namedItem('token') as HTMLInputElement;
    const token = input.value.trim();
    if (!token) return setError('Enter an operator token.');
    setBusy(true);
    try {
      const me = await api<Me>('/api/v1/dashboard/me', { token });
      setToken(token);
      input.value = '';
      onLogin(me);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? 'The hub does not know this token.'
          : err instanceof ApiError && err.status === 403
            ? 'This is not an operator token (agent tokens cannot log in).'
            : `Could not reach the hub: ${(err as Error).message}`,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="login">
      <form onSubmit={submit} autocomplete="off">
        <h1>
          <img src="/favicon.svg" alt="" width="28" height="28" /> forewarn
        </h1>
        <p class="muted">Log in with an operator token (role read, operate or admin).</p>
        <label for="token">Operator token</label>
        <input id="token" name="token" type="password" autofocus spellcheck={false} />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Log in'}
        </button>
      </form>
    </div>
  );
}
