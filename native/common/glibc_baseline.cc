// Keeps a Linux addon loadable on glibc 2.28 (RHEL 8, Debian 10, Ubuntu 20.04 has 2.31) when it
// is built on a newer glibc with libstdc++ and libgcc linked statically.
//
// The linker binds every reference to a symbol's newest (default) version. Built against glibc
// 2.36, the static libstdc++/libgcc objects and our own code would then need:
//   pthread_* @GLIBC_2.34, pthread_sigmask @GLIBC_2.32 (libpthread merged into libc; the old
//                          versions are the same code)
//   __libc_single_threaded @GLIBC_2.32   (libstdc++'s "skip atomics" hint)
//   arc4random @GLIBC_2.36  (libstdc++'s std::random_device)
//   _dl_find_object @GLIBC_2.35 (libgcc's unwinder looks up the FDE table of a pc)
// The build links with -Wl,--wrap=<symbol> for each (proactor_addon() in native/cmake/addon.cmake), so every
// reference, ours and the static libraries', lands on a __wrap_<symbol> below, which calls the
// oldest version of the same function (.symver), or does the same job with older interfaces.
// glibc on x86-64 keeps the GLIBC_2.2.5 versions of the pthread functions as aliases of the new
// ones, so nothing changes at run time. A test (packages/aio-uring/test/portable-binary.test.ts) reads the
// built binary's version needs and fails if any is newer than 2.28 (statx is 2.28).
#ifdef __linux__
#include <features.h>  // defines __GLIBC__ on glibc
#endif
#if defined(__linux__) && defined(__GLIBC__) && defined(__x86_64__)

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PROACTOR_OLD(name, version) __asm__(".symver proactor_old_" #name ", " #name "@" version)

extern "C" {

PROACTOR_OLD(pthread_create, "GLIBC_2.2.5");
PROACTOR_OLD(pthread_join, "GLIBC_2.2.5");
PROACTOR_OLD(pthread_detach, "GLIBC_2.2.5");
PROACTOR_OLD(pthread_once, "GLIBC_2.2.5");
PROACTOR_OLD(pthread_key_create, "GLIBC_2.2.5");
PROACTOR_OLD(__pthread_key_create, "GLIBC_2.2.5");
PROACTOR_OLD(pthread_key_delete, "GLIBC_2.2.5");
PROACTOR_OLD(pthread_getspecific, "GLIBC_2.2.5");
PROACTOR_OLD(pthread_setspecific, "GLIBC_2.2.5");
PROACTOR_OLD(pthread_sigmask, "GLIBC_2.2.5");

int proactor_old_pthread_create(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
int proactor_old_pthread_join(pthread_t, void**);
int proactor_old_pthread_detach(pthread_t);
int proactor_old_pthread_once(pthread_once_t*, void (*)(void));
int proactor_old_pthread_key_create(pthread_key_t*, void (*)(void*));
int proactor_old___pthread_key_create(pthread_key_t*, void (*)(void*));
int proactor_old_pthread_key_delete(pthread_key_t);
void* proactor_old_pthread_getspecific(pthread_key_t);
int proactor_old_pthread_setspecific(pthread_key_t, const void*);
int proactor_old_pthread_sigmask(int, const sigset_t*, sigset_t*);

__attribute__((visibility("hidden"))) int __wrap_pthread_create(pthread_t* thread, const pthread_attr_t* attr,
                                                                void* (*start)(void*), void* arg) {
  return proactor_old_pthread_create(thread, attr, start, arg);
}
__attribute__((visibility("hidden"))) int __wrap_pthread_join(pthread_t thread, void** value) {
  return proactor_old_pthread_join(thread, value);
}
__attribute__((visibility("hidden"))) int __wrap_pthread_detach(pthread_t thread) {
  return proactor_old_pthread_detach(thread);
}
__attribute__((visibility("hidden"))) int __wrap_pthread_once(pthread_once_t* once, void (*init)(void)) {
  return proactor_old_pthread_once(once, init);
}
__attribute__((visibility("hidden"))) int __wrap_pthread_key_create(pthread_key_t* key, void (*dtor)(void*)) {
  return proactor_old_pthread_key_create(key, dtor);
}
// libstdc++'s __gthread_active_p() takes a weak reference to this one: non-null means threads.
__attribute__((visibility("hidden"))) int __wrap___pthread_key_create(pthread_key_t* key, void (*dtor)(void*)) {
  return proactor_old___pthread_key_create(key, dtor);
}
__attribute__((visibility("hidden"))) int __wrap_pthread_key_delete(pthread_key_t key) {
  return proactor_old_pthread_key_delete(key);
}
__attribute__((visibility("hidden"))) void* __wrap_pthread_getspecific(pthread_key_t key) {
  return proactor_old_pthread_getspecific(key);
}
__attribute__((visibility("hidden"))) int __wrap_pthread_setspecific(pthread_key_t key, const void* value) {
  return proactor_old_pthread_setspecific(key, value);
}
__attribute__((visibility("hidden"))) int __wrap_pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
  return proactor_old_pthread_sigmask(how, set, old);
}

// Zero: "the process may be multi-threaded", so libstdc++ always uses atomic reference counts.
// That is what it does on a glibc older than 2.32, and it is always correct (an addon runs in a
// process with libuv's thread pool anyway).
__attribute__((visibility("hidden"))) char __wrap___libc_single_threaded = 0;

// std::random_device: the kernel's getrandom (Linux 3.17; io_uring needs 5.6) through syscall(2),
// which every glibc has. arc4random cannot fail, so neither may this.
__attribute__((visibility("hidden"))) uint32_t __wrap_arc4random(void) {
  uint32_t value;
  for (;;) {
    long n = syscall(SYS_getrandom, &value, sizeof value, 0);
    if (n == static_cast<long>(sizeof value)) return value;
    if (n < 0 && errno != EINTR) abort();
  }
}

#ifdef DLFO_STRUCT_HAS_EH_DBASE  // glibc 2.35 headers: libgcc's unwinder calls _dl_find_object
// The unwinder asks which loaded object holds `pc` and where that object's PT_GNU_EH_FRAME
// segment is. glibc 2.35 answers from a lock-free table; dl_iterate_phdr (every glibc) answers
// the same question by walking the loaded objects under the loader lock, which is fine for the
// rare path of a thrown C++ exception. Returns 0 and fills `result` when found, -1 otherwise,
// like _dl_find_object.
struct FindObjectQuery {
  uintptr_t pc;
  dl_find_object* result;
  bool found;
};

static int FindObjectInPhdrs(dl_phdr_info* info, size_t, void* data) {
  auto* query = static_cast<FindObjectQuery*>(data);
  uintptr_t low = UINTPTR_MAX, high = 0;
  bool contains = false;
  const void* eh_frame = nullptr;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& phdr = info->dlpi_phdr[i];
    uintptr_t start = info->dlpi_addr + phdr.p_vaddr;
    if (phdr.p_type == PT_LOAD) {
      uintptr_t end = start + phdr.p_memsz;
      if (start < low) low = start;
      if (end > high) high = end;
      if (query->pc >= start && query->pc < end) contains = true;
    } else if (phdr.p_type == PT_GNU_EH_FRAME) {
      eh_frame = reinterpret_cast<const void*>(start);
    }
  }
  if (!contains) return 0;
  query->result->dlfo_flags = 0;
  query->result->dlfo_map_start = reinterpret_cast<void*>(low);
  query->result->dlfo_map_end = reinterpret_cast<void*>(high);
  query->result->dlfo_link_map = nullptr;
  query->result->dlfo_eh_frame = const_cast<void*>(eh_frame);
  query->found = true;
  return 1;
}

__attribute__((visibility("hidden"))) int __wrap__dl_find_object(void* pc, dl_find_object* result) {
  FindObjectQuery query{reinterpret_cast<uintptr_t>(pc), result, false};
  dl_iterate_phdr(FindObjectInPhdrs, &query);
  return query.found ? 0 : -1;
}
#endif

}  // extern "C"

#endif
