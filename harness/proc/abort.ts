/**
 * The two races every layer needs, written once: work against an
 * AbortSignal, and work against a deadline. Neither stops the work itself
 * (a promise cannot be cancelled): callers that own a process or a channel
 * also listen to the signal and end it; these only stop the *waiting*.
 */
import { abortReason, type DutError } from '../errors.ts';

/** Resolves or rejects with `work`, or rejects with the signal's reason once it aborts. */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Resolves or rejects with `work`, or rejects with `expired()` after `ms`. */
export function within<T>(work: Promise<T>, ms: number, expired: () => DutError): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(expired()), ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Rejects at once if the signal has already aborted: for the start of an operation. */
export function throwIfAborted(signal: AbortSignal | undefined, dut?: string, step?: string): void {
  if (signal?.aborted) throw abortReason(signal, dut, step);
}
