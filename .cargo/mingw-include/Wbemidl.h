/* libunrar includes <Wbemidl.h>; MinGW-w64 ships <wbemidl.h>. Forwarded for
 * the same reason as PowrProf.h in this directory. */
#ifndef TAKEDOWN_FORWARD_WBEMIDL_H
#define TAKEDOWN_FORWARD_WBEMIDL_H
#include <wbemidl.h>
#endif
