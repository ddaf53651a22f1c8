// The name scan of scripts/windows-msvc-check.mjs (what clang accepts and MSVC does not): it must
// flag a GNU spelling, a POSIX name the Universal CRT lacks and a call MSVC deprecates, and leave
// alone a member, another namespace's function or a declaration that has one of those names.
import { describe, expect, it } from 'vitest';
import { classKeys, msvcFindings } from '../windows-msvc-check.mjs';

const names = (line: string) => msvcFindings(line).map((finding) => finding.name);

describe('windows-msvc-check: names MSVC lacks or rejects', () => {
  it('flags GNU spellings and pragmas', () => {
    expect(names('  if (__builtin_expect(n == 0, 0)) return;')).toEqual(['__builtin_expect']);
    expect(names('static void Stop() __attribute__((noreturn));')).toEqual(['__attribute__']);
    expect(names('#pragma GCC diagnostic ignored "-Wshadow"')).toEqual(['GCC']);
  });

  it('flags POSIX types and calls that only mingw-w64 provides', () => {
    expect(names('  mode_t mode = 0644;')).toEqual(['mode_t']);
    expect(names('  pthread_mutex_t lock;')).toEqual(['pthread_mutex_t']);
    expect(names('  clock_gettime(CLOCK_MONOTONIC, &now);')).toEqual(['clock_gettime']);
  });

  it('flags CRT calls MSVC deprecates (C4996), plain or through std::', () => {
    expect(names('  const char* home = getenv("HOME");')).toEqual(['getenv']);
    expect(names('  const char* home = std::getenv("HOME");')).toEqual(['getenv']);
    expect(names('  return close(fd);')).toEqual(['close']);
    expect(names('  if (!read(fd, buffer, n)) return;')).toEqual(['read']);
  });

  it('leaves members, other namespaces, declarations and Win32 names alone', () => {
    expect(names('  handle.close();')).toEqual([]);
    expect(names('  entry->read(buffer);')).toEqual([]);
    expect(names('  HandleTable::close(index);')).toEqual([]);
    expect(names('  int close() { return 0; }')).toEqual([]);
    expect(names('  ReadFile(handle, buffer, size, nullptr, &overlapped);')).toEqual([]);
    expect(names('  int64_t SocketError() { return TranslateSystemError(WSAGetLastError()); }')).toEqual([]);
  });
});

describe('windows-msvc-check: class keys (MSVC mangles class and struct differently)', () => {
  it('reads declarations and definitions, qualified names included', () => {
    expect(classKeys('class QueueBuffers;')).toEqual([{ key: 'class', name: 'QueueBuffers' }]);
    expect(classKeys('class IocpHost final : public EnvHost {')).toEqual([
      { key: 'class', name: 'IocpHost' },
    ]);
    expect(classKeys('struct IocpHost::Request {')).toEqual([{ key: 'struct', name: 'IocpHost::Request' }]);
    expect(classKeys('  struct Request;')).toEqual([{ key: 'struct', name: 'Request' }]);
  });

  it('leaves enum classes, template parameters and elaborated uses alone', () => {
    expect(classKeys('enum class Kind : uint8_t {')).toEqual([]);
    expect(classKeys('template <class T, class U = int>')).toEqual([]);
    expect(classKeys('  const struct sockaddr* address = nullptr;')).toEqual([]);
  });
});
