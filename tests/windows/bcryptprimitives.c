/* A stand-in bcryptprimitives.dll for running takedown.exe under Wine.
 *
 * Rust's standard library gets its random bytes (HashMap keys, among
 * others) from ProcessPrng in bcryptprimitives.dll, which every Windows
 * since Windows 10 has. Wine 8.0 has no such DLL, so takedown.exe does not
 * even start there. tests/windows/run.sh builds this file with MinGW at
 * test time and puts the DLL beside takedown.exe; it is never shipped:
 * on real Windows the system's DLL is the one loaded.
 *
 * ProcessPrng is answered by RtlGenRandom (exported by advapi32 as
 * SystemFunction036), the system CSPRNG Wine does implement. It takes a
 * ULONG length, so a larger request is served in pieces. */
#include <windows.h>

typedef BOOLEAN(WINAPI *rtl_gen_random_fn)(PVOID, ULONG);

static rtl_gen_random_fn rtl_gen_random(void) {
  static rtl_gen_random_fn found;
  if (found == NULL) {
    HMODULE advapi32 = LoadLibraryW(L"advapi32.dll");
    if (advapi32 != NULL) {
      found = (rtl_gen_random_fn)(void (*)(void))GetProcAddress(advapi32, "SystemFunction036");
    }
  }
  return found;
}

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  rtl_gen_random_fn gen = rtl_gen_random();
  if (gen == NULL) {
    return FALSE;
  }
  while (len > 0) {
    ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (!gen(data, chunk)) {
      return FALSE;
    }
    data += chunk;
    len -= chunk;
  }
  return TRUE;
}
