//! Executable packers: the unpacked image of a packed executable comes
//! out as a new object (`dropper.exe!upx`), scanned and recursed into like
//! any member.

// Used by the UPX unpacker, which follows.
#[allow(dead_code)]
mod nrv;
