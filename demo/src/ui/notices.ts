import { isDurableError } from '@durable-rx/runtime';
import { catchError, EMPTY, type MonoTypeOperatorFunction } from 'rxjs';
import { h, setText } from './h.js';

/** Where panels report the outcome of a command. */
export interface Notices {
  /** The live region; place it once near the top of the page. */
  readonly element: HTMLElement;
  /** Announces a failed command (e.g. a 410 when the instance finished meanwhile). */
  report(error: unknown): void;
  /** Clears the message. */
  clear(): void;
}

/** An `role="alert"` region for command errors. */
export function createNotices(): Notices {
  const text = h('span');
  const dismiss = h('button', { type: 'button', class: 'link', onclick: () => clear() }, 'Dismiss');
  const element = h('div', { class: 'notice', role: 'alert', hidden: true }, text, ' ', dismiss);
  const clear = () => {
    element.hidden = true;
    setText(text, '');
  };
  return {
    element,
    report(error) {
      const message = isDurableError(error)
        ? `${error.message} (${error.code}, ${error.status})`
        : error instanceof Error ? error.message : String(error);
      setText(text, message);
      element.hidden = false;
    },
    clear,
  };
}

/** Runs a command from a button: disables it meanwhile and reports a failure. */
export async function runCommand(button: HTMLButtonElement, notices: Notices, command: () => Promise<unknown>): Promise<void> {
  button.setAttribute('aria-busy', 'true');
  button.disabled = true;
  try {
    notices.clear();
    await command();
  } catch (error) {
    notices.report(error);
  } finally {
    button.removeAttribute('aria-busy');
    button.disabled = button.dataset['enabled'] === 'false';
  }
}

/** Enables or disables a button from state, without re-enabling it while {@link runCommand} runs its command. */
export function setEnabled(button: HTMLButtonElement, enabled: boolean): void {
  button.dataset['enabled'] = String(enabled);
  button.disabled = !enabled || button.getAttribute('aria-busy') === 'true';
}

/** Reports an error of a live view (e.g. the database could not be opened) instead of silently stopping. */
export function reportErrors<T>(notices: Notices): MonoTypeOperatorFunction<T> {
  return catchError((error: unknown) => {
    notices.report(error);
    return EMPTY;
  });
}
