#!/usr/bin/env node
// The closest check of the IOCP addon's MSVC build that runs on Linux: `node scripts/windows-msvc-check.mjs`
// (in .ci/run after pnpm build; 30 s of CPU, 40-80 s on the shared 2-core machine). The windows-latest job of
// .github/workflows/iocp.yml builds the addon with MSVC; nothing of MSVC (cl.exe, its STL, the
// Windows SDK) can be installed here, so this compiles the same sources, with the same
// definitions, with Debian's clang for x86_64-w64-windows-gnu (mingw-w64's Windows headers,
// mingw's libstdc++), in C++17 without GNU extensions, with clang's counterparts of what /W4 /WX
// reports, as errors (the MSVC build itself does not use /WX yet: native/cmake/addon.cmake):
//   C4100 unreferenced parameter, C4189 unused local, C4701 uninitialized ... -Wall -Wextra
//   C4244 / C4267 lossy integer and float conversions (size_t -> DWORD: long is 32-bit on
//                 Windows, as in this target)                        -Wconversion -Wno-sign-conversion
//   C4018 / C4389 signed/unsigned comparison                         -Wsign-compare (in -Wextra)
//   C4456-C4459 a declaration hides a local, parameter, member, global   -Wshadow-all
//   C4702 unreachable code                                           -Wunreachable-code
//   C7555 designated initializers before C++20, C4200 zero-sized / flexible arrays, C4201
//   anonymous structs, VLAs, statement expressions, case ranges     -pedantic -std=c++17
// Then it scans the preprocessed tokens that come from the repository's own files (the Windows
// side of every #if) for what the MSVC toolchain has not got, where clang would accept it:
// GNU spellings (__attribute__, __builtin_*, typeof, #pragma GCC), POSIX names that mingw-w64
// declares and the Universal CRT / Windows SDK do not (pthread_*, clock_gettime, mode_t, ...),
// and CRT functions MSVC deprecates with C4996 (strcpy, getenv, the POSIX names close/open/...),
// and for a type declared class in one file and struct in another (MSVC's mangling differs).
//
// What it cannot see: MSVC's own front end (its template and constexpr quirks, its two-phase
// lookup in permissive mode), MSVC's STL (a header one of our files uses without including it,
// which libstdc++ happens to pull in), warnings only MSVC has (C4127 constant condition, C4324
// padding from alignas, C4245 a negative constant into an unsigned type), the Windows SDK's
// headers as opposed to mingw-w64's, and the link (node.lib from node_api.def, /DELAYLOAD,
// /MT). Those show first in the windows-latest job.
//
// The compile commands are CMake's for the mingw-w64 cross build (scripts/windows-build.sh),
// configured into a temporary directory, minus delay_load_hook.cc (MinGW only: an MSVC build
// links cmake-js's hook instead) and plus glibc_baseline.cc (compiled into every addon, empty on
// Windows). Installs clang and mingw-w64 from Debian when missing. Exits non-zero on any finding.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repository = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const native = join(repository, 'native') + sep;
const mingw = 'x86_64-w64-mingw32';

/** The clang flags standing for /W4 /WX and MSVC's C++17 (see the table above). */
const MSVC_WARNINGS = [
  '-std=c++17',
  '-pedantic',
  '-Wall',
  '-Wextra',
  '-Wconversion',
  '-Wno-sign-conversion',
  '-Wshadow-all',
  '-Wunreachable-code',
  '-Werror',
];

/**
 * Names in our own code that an MSVC build lacks or rejects, with why. Matched as whole
 * identifiers in the active lines of our sources (see scanPreprocessed); a POSIX or CRT function
 * only where it is called: followed by "(", after an operator, an opening bracket, a separator or
 * `return`, or as std::name (std::getenv is deprecated as getenv is); so neither a member
 * (x.close()), another namespace's function (Handles::close) nor a declaration (int close()).
 */
const NOT_IN_MSVC = [
  {
    pattern:
      /\b(__attribute__|__builtin_\w+|__typeof__|typeof|__int128|__extension__|__thread|__asm__|__restrict__|__PRETTY_FUNCTION__)\b/,
    why: 'a GNU extension',
  },
  { pattern: /^\s*#\s*pragma\s+(GCC|clang)\b/, why: 'an unknown pragma to MSVC (C4068)' },
  {
    pattern:
      /\b(mode_t|pid_t|pthread_(?:\w+_)?t|uid_t|gid_t|useconds_t|in_addr_t|in_port_t|sa_family_t|nlink_t|blksize_t|blkcnt_t)\b/,
    why: 'a POSIX type mingw-w64 declares and the Windows SDK does not',
  },
  {
    pattern:
      /(?:(?<=(?:^|[=(,;!?{}|&+-])\s*)|(?<=\breturn\s+))(pthread_\w+|sched_yield|clock_gettime|nanosleep|usleep|gettimeofday|strcasecmp|strncasecmp|localtime_r|gmtime_r|strtok_r|strerror_r)\s*\(/,
    why: 'a POSIX function mingw-w64 provides and the Universal CRT does not',
  },
  {
    pattern:
      /(?:(?<=(?:^|[=(,;!?{}|&+-])\s*)|(?<=\breturn\s+)|(?<=std::))(strcpy|strcat|strncpy|strncat|sprintf|vsprintf|sscanf|strtok|strerror|getenv|fopen|localtime|gmtime|ctime|mbstowcs|wcstombs|wcscpy|wcsncpy|wcscat|strdup|close|open|read|write|lseek|unlink|fileno|dup|dup2|getcwd|rmdir|access)\s*\(/,
    why: 'deprecated by MSVC (C4996)',
  },
];

/** What NOT_IN_MSVC finds in one line of source: the name and why MSVC lacks or rejects it. */
export function msvcFindings(sourceLine) {
  const found = [];
  for (const { pattern, why } of NOT_IN_MSVC) {
    const match = pattern.exec(sourceLine);
    if (match) found.push({ name: match[1] ?? match[0].trim(), why });
  }
  return found;
}

/**
 * The class keys one line of source declares or defines a type with (`class X;`, `struct X {`,
 * `class X final : Base`, `struct Outer::Inner {`), as spelled; not enum class, template
 * parameters or elaborated uses (struct sockaddr* p).
 */
export function classKeys(sourceLine) {
  const pattern =
    /(?<!\benum\s+)\b(class|struct)\s+([A-Za-z_]\w*(?:::[A-Za-z_]\w*)*)(?=\s*(?:;|\{|final\b|:(?!:)))/g;
  return [...sourceLine.matchAll(pattern)].map((match) => ({ key: match[1], name: match[2] }));
}

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...options });
  if (result.error) throw result.error;
  return result;
}

function installTools() {
  const missing = [];
  if (!onPath('clang++')) missing.push('clang');
  if (!onPath(`${mingw}-g++-posix`)) missing.push('mingw-w64');
  if (missing.length === 0) return;
  console.log(`== apt-get install ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', '--no-install-recommends', ...missing],
  ]) {
    const result = run('apt-get', args, { env, stdio: 'inherit' });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed`);
  }
}

/**
 * mingw-w64's C++ and Windows header directories, as its g++ searches them, minus GCC's own
 * (intrinsics and fixed headers: clang brings its own, from its resource directory).
 */
function mingwHeaderDirs() {
  const { stderr } = run(`${mingw}-g++-posix`, ['-E', '-x', 'c++', '-', '-v'], { input: '' });
  const list = stderr.split('#include <...> search starts here:')[1]?.split('End of search list.')[0];
  if (list === undefined) throw new Error(`no include search list from ${mingw}-g++-posix -v`);
  return list
    .split('\n')
    .map((line) => resolve(line.trim()))
    .filter((dir) => dir.includes('/c++') || dir === `/usr/${mingw}/include`);
}

/** A command line split as a POSIX shell would split CMake's (double quotes only). */
function splitCommand(command) {
  return [...command.matchAll(/(?:[^\s"]+|"[^"]*")+/g)].map((match) => match[0].replaceAll('"', ''));
}

/**
 * The clang arguments of one compile command: its definitions and include directories (a
 * response file read in), -I of a directory outside native/ (the Node-API headers) as -isystem
 * as the MSVC build makes them external, without its output, language standard and compiler.
 */
function compileArguments(entry) {
  const args = [];
  const tokens = splitCommand(entry.command).slice(1);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token === '-o') i++;
    else if (token === '-c' || token.startsWith('-std=') || token === entry.file) continue;
    else if (token.startsWith('@')) {
      tokens.splice(
        i + 1,
        0,
        ...splitCommand(readFileSync(resolve(entry.directory, token.slice(1)), 'utf8')),
      );
    } else if (token.startsWith('-I') && !resolve(entry.directory, token.slice(2)).startsWith(native)) {
      args.push('-isystem', token.slice(2));
    } else args.push(token);
  }
  return args;
}

function clang(args, cwd) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('clang++', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (chunk) => out.push(chunk));
    child.stderr.on('data', (chunk) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (status) =>
      resolvePromise({
        status,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    );
  });
}

/**
 * Findings of NOT_IN_MSVC in our own code that the Windows build compiles: the lines of native/
 * that the preprocessed output (-dD keeps #define lines) says are active, read from the source
 * itself, so that a header's macro (offsetof is __builtin_offsetof in mingw's headers) is not
 * taken for ours. Also records in `keys` each type name's class keys, where they are written.
 */
function scanPreprocessed(output, sources, keys) {
  const findings = [];
  let file = '';
  let line = 0;
  for (const text of output.split('\n')) {
    const marker = /^# (\d+) "([^"]*)"/.exec(text);
    if (marker) {
      line = Number(marker[1]);
      file = resolve(marker[2]);
      continue;
    }
    if (file.startsWith(native) && text.trim() !== '') {
      if (!sources.has(file)) sources.set(file, readFileSync(file, 'utf8').split('\n'));
      const source = sources.get(file)[line - 1] ?? '';
      for (const { name, why } of msvcFindings(source)) findings.push(`${file}:${line}: '${name}': ${why}`);
      for (const { key, name } of classKeys(source)) {
        if (!keys.has(name)) keys.set(name, new Map());
        keys.get(name).set(key, `${file}:${line}`);
      }
    }
    line++;
  }
  return findings;
}

async function main() {
  installTools();
  const build = mkdtempSync(join(tmpdir(), 'proactor-msvc-check-'));
  try {
    const configure = run('cmake', [
      '-S',
      join(repository, 'packages', 'aio-iocp'),
      '-B',
      build,
      '-DCMAKE_BUILD_TYPE=Release',
      `-DCMAKE_TOOLCHAIN_FILE=${join(repository, 'native', 'cmake', 'mingw-w64-x86_64.cmake')}`,
      '-DCMAKE_EXPORT_COMPILE_COMMANDS=ON',
    ]);
    if (configure.status !== 0)
      throw new Error(`cmake configure failed:\n${configure.stdout}${configure.stderr}`);
    const commands = JSON.parse(readFileSync(join(build, 'compile_commands.json'), 'utf8'));
    const addon = commands.find((entry) => entry.file.endsWith(`${sep}iocp${sep}addon.cc`));
    const units = commands
      .filter((entry) => !entry.file.endsWith('delay_load_hook.cc'))
      .concat({ ...addon, file: join(repository, 'native', 'common', 'glibc_baseline.cc') });

    const resourceInclude = join(run('clang++', ['-print-resource-dir']).stdout.trim(), 'include');
    const target = [
      '--target=x86_64-w64-windows-gnu',
      '-nostdinc',
      ...mingwHeaderDirs().flatMap((dir) => ['-isystem', dir]),
      '-isystem',
      resourceInclude,
    ];
    const failures = [];
    const findings = [];
    const sources = new Map();
    const keys = new Map();
    let next = 0;
    // Two at a time: the machine's two cores are shared.
    const worker = async () => {
      while (next < units.length) {
        const entry = units[next++];
        const common = [...target, ...compileArguments(entry), ...MSVC_WARNINGS];
        const syntax = await clang([...common, '-fsyntax-only', entry.file], entry.directory);
        if (syntax.status !== 0) failures.push(`${entry.file}\n${syntax.stderr}`);
        const preprocessed = await clang([...common, '-E', '-dD', entry.file], entry.directory);
        if (preprocessed.status !== 0) failures.push(`${entry.file} (preprocessing)\n${preprocessed.stderr}`);
        else findings.push(...scanPreprocessed(preprocessed.stdout, sources, keys));
      }
    };
    await Promise.all([worker(), worker()]);

    // One type declared class in one place and struct in another: MSVC mangles the two
    // differently (C4099), so a translation unit that saw only the other one links to a symbol
    // nobody defines. clang warns (-Wmismatched-tags) only where one file sees both.
    for (const [name, where] of keys) {
      if (where.size > 1)
        findings.push(
          `'${name}' is a class at ${where.get('class')} and a struct at ${where.get('struct')}: MSVC mangles them differently`,
        );
    }
    const unique = [...new Set(findings)];
    for (const failure of failures) process.stdout.write(failure);
    for (const finding of unique) console.log(finding);
    console.log(
      `windows-msvc-check: ${units.length} files, ${failures.length} with clang errors (counterparts of MSVC's /W4), ${unique.length} findings of the scan (names MSVC lacks or deprecates, class/struct mismatches)`,
    );
    return failures.length + unique.length === 0 ? 0 : 1;
  } finally {
    rmSync(build, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main();
}
