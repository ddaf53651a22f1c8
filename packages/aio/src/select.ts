import {
  type Backend,
  type BackendName,
  invalidArgValue,
  Queue,
  type QueueOptions,
} from '@proactor/aio-core';

/** A backend @proactor/aio knows how to find. */
interface Candidate {
  name: BackendName;
  package: string;
}

/** Backend packages that are designed but not published yet: never "not installed". */
const planned: ReadonlySet<string> = new Set(['@proactor/aio-iocp']);

// Maps, not object literals: PROACTOR_BACKEND=constructor must name no backend.
const candidatesByPlatform: ReadonlyMap<string, Candidate[]> = new Map(
  Object.entries<Candidate[]>({
    linux: [
      { name: 'io_uring', package: '@proactor/aio-uring' },
      { name: 'epoll', package: '@proactor/aio-epoll' },
      { name: 'node', package: '@proactor/aio-node' },
    ],
    darwin: [
      { name: 'kqueue', package: '@proactor/aio-kqueue' },
      { name: 'node', package: '@proactor/aio-node' },
    ],
    freebsd: [
      { name: 'kqueue', package: '@proactor/aio-kqueue' },
      { name: 'node', package: '@proactor/aio-node' },
    ],
    win32: [
      { name: 'iocp', package: '@proactor/aio-iocp' },
      { name: 'node', package: '@proactor/aio-node' },
    ],
  }),
);

const aliases: ReadonlyMap<string, BackendName> = new Map(
  Object.entries<BackendName>({
    io_uring: 'io_uring',
    uring: 'io_uring',
    'aio-uring': 'io_uring',
    epoll: 'epoll',
    kqueue: 'kqueue',
    iocp: 'iocp',
    node: 'node',
  }),
);

/** What happened to one candidate during selection. */
export interface CandidateOutcome {
  /** The mechanism: io_uring, epoll, kqueue, iocp or node. */
  name: BackendName;
  /** The package that provides it ('@proactor/aio-uring', ...). */
  package: string;
  /**
   * selected: its package loaded and is the backend; unavailable: it did not load (see
   * `reason`); not tried: an earlier candidate was selected, or PROACTOR_BACKEND named another.
   */
  status: 'selected' | 'unavailable' | 'not tried';
  /**
   * Why: selected because it is the first of the platform's order that loaded (or was named),
   * unavailable with its load error (io_uring: seccomp, memlock, ...), not tried because of
   * the one selected or named.
   */
  reason: string;
}

/** What `selectBackend()` resolves with: the backend chosen, and why. */
export interface Selection {
  /** The first candidate that loaded, or the one PROACTOR_BACKEND (or `options.backend`) named. */
  backend: Backend;
  /** Every candidate of this platform in probe order: selected, unavailable with the reason, or not tried. */
  outcomes: CandidateOutcome[];
  /** Human-readable account of the choice, one line per candidate. */
  explain(): string;
}

/** How `selectBackend()` and `createQueue()` choose; every field is optional. */
export interface SelectOptions {
  /** Overrides PROACTOR_BACKEND: a backend name (io_uring, epoll, kqueue, iocp, node). */
  backend?: string;
  /** Defaults to process.platform. */
  platform?: string;
  /** Loads a candidate package; tests replace it. Default: dynamic import(). */
  load?: (specifier: string) => Promise<unknown>;
}

/** Why `candidate` could not be loaded, on one line. */
function describeError(candidate: Candidate, error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    const missing =
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
      error.message.includes(`'${candidate.package}'`);
    if (missing && planned.has(candidate.package)) return 'planned, not published yet';
    if (missing) return `not installed (npm install ${candidate.package})`;
    return oneLine(error.message);
  }
  return oneLine(String(error));
}

function oneLine(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join('; ');
}

function isBackend(value: unknown): value is Backend {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Backend).attach === 'function' &&
    typeof (value as Backend).name === 'string'
  );
}

/**
 * Picks the best backend this machine can run, in platform order (Linux: io_uring, epoll, node;
 * macOS/FreeBSD: kqueue, node; Windows: iocp, node), or the one PROACTOR_BACKEND names. A
 * candidate is unavailable when its package is not installed or fails to load (its error says
 * why: io_uring blocked by seccomp, memlock limits, ...). Throws when a named backend cannot load.
 */
export async function selectBackend(options: SelectOptions = {}): Promise<Selection> {
  const platform = options.platform ?? process.platform;
  const load = options.load ?? ((specifier: string) => import(specifier));
  const requested = options.backend ?? process.env.PROACTOR_BACKEND;
  const requestedBy = options.backend === undefined ? 'PROACTOR_BACKEND' : 'options.backend';
  const order = (candidatesByPlatform.get(platform) ?? []).map((c) => c.name).join(', ') || 'node';
  let candidates = candidatesByPlatform.get(platform) ?? [{ name: 'node', package: '@proactor/aio-node' }];
  const outcomes: CandidateOutcome[] = [];
  if (requested !== undefined && requested !== '') {
    const name = aliases.get(requested);
    if (name === undefined) {
      throw invalidArgValue(
        'PROACTOR_BACKEND',
        requested,
        'names no backend; use one of io_uring, epoll, kqueue, iocp, node',
      );
    }
    for (const c of candidates) {
      if (c.name !== name)
        outcomes.push({ ...c, status: 'not tried', reason: `${requestedBy}=${requested} names ${name}` });
    }
    candidates = [
      candidates.find((c) => c.name === name) ?? {
        name,
        package: `@proactor/aio-${name === 'io_uring' ? 'uring' : name}`,
      },
    ];
  }
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i];
    try {
      const mod = (await load(candidate.package)) as { default?: unknown; selectionNote?: unknown };
      if (!isBackend(mod.default)) throw new Error(`${candidate.package} does not export a Backend`);
      const why =
        candidates.length === 1 && requested
          ? `${requestedBy}=${requested}`
          : i === 0
            ? `the first in ${platform}'s order (${order}), and it loaded`
            : `loaded; ${candidates
                .slice(0, i)
                .map((c) => c.name)
                .join(
                  ' and ',
                )} came first in ${platform}'s order (${order}) but ${i === 1 ? 'was' : 'were'} unavailable`;
      // A backend module may add one line about how it will run here (aio-epoll: whether direct
      // I/O goes through Linux AIO, or why not).
      const note = mod.selectionNote;
      outcomes.push({
        ...candidate,
        status: 'selected',
        reason: typeof note === 'string' && note !== '' ? `${why}; ${note}` : why,
      });
      for (const rest of candidates.slice(i + 1)) {
        outcomes.push({ ...rest, status: 'not tried', reason: `${candidate.name} comes first` });
      }
      const backend = mod.default;
      return { backend, outcomes, explain: () => explain(outcomes) };
    } catch (error) {
      outcomes.push({ ...candidate, status: 'unavailable', reason: describeError(candidate, error) });
    }
  }
  const err = new Error(`no proactor backend could be loaded:\n${explain(outcomes)}`) as Error & {
    code: string;
  };
  err.code = 'ERR_PROACTOR_NO_BACKEND';
  throw err;
}

function explain(outcomes: CandidateOutcome[]): string {
  return outcomes
    .map((o) => `${o.status.padEnd(11)} ${o.name.padEnd(8)} ${o.package}: ${o.reason}`)
    .join('\n');
}

/** A Queue made by createQueue(): it also says how its backend was chosen. */
export type SelectedQueue = Queue & {
  /** The selection that picked this queue's backend: every candidate's outcome, and explain(). */
  readonly selection: Selection;
};

/**
 * A queue on the best available backend (see selectBackend). The queue's `selection` says why
 * that backend was chosen: `q.selection.explain()`.
 */
export async function createQueue(options?: QueueOptions & SelectOptions): Promise<SelectedQueue> {
  const selection = await selectBackend(options);
  const queue = new Queue(selection.backend, options);
  Object.defineProperty(queue, 'selection', { value: selection, enumerable: false });
  return queue as SelectedQueue;
}
