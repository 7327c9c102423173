/* Cross-building libunrar (bundled by the unrar crate, 0.5.8) for
 * x86_64-pc-windows-gnu from Linux.
 *
 * 1. libunrar's os.hpp includes <PowrProf.h>, the Windows SDK's spelling;
 *    MinGW-w64 ships <powrprof.h>, and Linux file names are case-sensitive.
 *    This file forwards to it.
 * 2. unrar_sys's build script picks the Windows sources with cfg!(windows),
 *    which in a build script describes the host, so from Linux it leaves out
 *    isnt.cpp, the file defining WinNT() and IsWindows11OrGreater() that the
 *    rest of libunrar calls. os.hpp includes this header (only os.hpp does,
 *    and only for Windows targets) before any of those calls, so the two
 *    are defined here, inline so that every translation unit may carry
 *    them. They ask RtlGetVersion, which reports the real version (the
 *    GetVersionEx of isnt.cpp is capped at 6.2 for programs without a
 *    compatibility manifest, so with it WinNT() answers 0x602 and
 *    IsWindows11OrGreater() false on Windows 10 and 11; the answers here
 *    differ only in being right). Windows 11 is build 22000 or later of
 *    version 10.0, as isnt.cpp decides it.
 *
 * Only for cross-builds: a native Windows host with the gnu toolchain
 * compiles isnt.cpp itself, and these definitions would clash with it;
 * unset CPLUS_INCLUDE_PATH (.cargo/config.toml) there. */
#ifndef TAKEDOWN_FORWARD_POWRPROF_H
#define TAKEDOWN_FORWARD_POWRPROF_H
#include <powrprof.h>

#ifdef __cplusplus
#include <windows.h>

typedef LONG(WINAPI *takedown_rtl_get_version_fn)(OSVERSIONINFOW *);

/* The real version from ntdll; a zeroed one (which makes both callers
 * take their oldest-Windows path) when ntdll does not answer. */
inline OSVERSIONINFOW takedown_os_version() {
  OSVERSIONINFOW info;
  ZeroMemory(&info, sizeof(info));
  info.dwOSVersionInfoSize = sizeof(info);
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  if (ntdll != NULL) {
    takedown_rtl_get_version_fn get = reinterpret_cast<takedown_rtl_get_version_fn>(
        reinterpret_cast<void *>(GetProcAddress(ntdll, "RtlGetVersion")));
    if (get == NULL || get(&info) != 0) {
      ZeroMemory(&info, sizeof(info));
    }
  }
  return info;
}

inline DWORD WinNT() {
  OSVERSIONINFOW info = takedown_os_version();
  if (info.dwPlatformId != VER_PLATFORM_WIN32_NT) {
    return 0;
  }
  return info.dwMajorVersion * 0x100 + info.dwMinorVersion;
}

inline bool IsWindows11OrGreater() {
  OSVERSIONINFOW info = takedown_os_version();
  return info.dwMajorVersion > 10 ||
         (info.dwMajorVersion == 10 && info.dwBuildNumber >= 22000);
}
#endif /* __cplusplus */
#endif
