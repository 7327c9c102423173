//! Packers unpacked by running their own stub: ASPack, MEW, Petite,
//! PESpin, Upack, WWPack32 and yC.
//!
//! Each is recognised by a few bytes at its entry point (or its section
//! names), so nothing else pays for it. The packed PE is then loaded as
//! Windows would load it (headers, sections at their addresses, the import
//! table filled with addresses of our own stand-ins for the few Windows
//! functions stubs call) into the [`emu`](super::emu) emulator, and the
//! stub is run until it jumps to the original entry point: to an address
//! in the image, outside the headers and outside the section the stub
//! started in, in a page the stub wrote to. The image as it is then comes
//! out as `NAME` (`dropper.exe!aspack`), rebuilt as a PE whose sections lie
//! in the file where they lie in memory (so an offset in the rebuilt file
//! is an address relative to the image base), entry point set to the
//! original one, trailing zeros cut.
//!
//! Exceptions the stub raises on purpose (PESpin and yC use them to
//! confuse debuggers) are handed to its handlers as Windows would: the
//! handler chain at `fs:[0]`, an exception record and a context on the
//! stack, the context read back when the handler returns.
//!
//! Bounds: at most [`MAX_INSTRUCTIONS`] instructions, [`MAX_PAGES`] pages
//! of memory, [`MAX_EXCEPTIONS`] exceptions, an image of at most
//! [`MAX_IMAGE`] bytes, and the scan's deadline, checked as the stub runs.

use super::emu::{Cpu, EAX, EBP, EBX, ECX, EDI, EDX, ESI, ESP, Exception, Memory, PAGE, TF};
use super::{le16, le32};
use crate::{Ctx, Entry, Issue, Sink};

/// Instructions one stub may run. The stubs of the samples run fewer
/// than 300,000; the unit tests, which run damaged stubs by the hundred
/// in debug builds, stop them sooner.
pub(crate) const MAX_INSTRUCTIONS: u64 = if cfg!(test) { 400_000 } else { 50_000_000 };
/// Pages of emulated memory (64 MiB).
pub(crate) const MAX_PAGES: usize = 16 * 1024;
/// Exceptions handed to the stub's handlers.
pub(crate) const MAX_EXCEPTIONS: u32 = 10_000;
/// Largest `SizeOfImage` loaded.
pub(crate) const MAX_IMAGE: u32 = 32 << 20;

/// A packer recognised by its stub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Packer {
    Aspack,
    Mew,
    Petite,
    Pespin,
    Upack,
    Wwpack,
    Yc,
}

impl Packer {
    /// The name of the unpacked image in the chain.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Packer::Aspack => "aspack",
            Packer::Mew => "mew",
            Packer::Petite => "petite",
            Packer::Pespin => "pespin",
            Packer::Upack => "upack",
            Packer::Wwpack => "wwpack",
            Packer::Yc => "yc",
        }
    }
}

/// The parts of the headers the loader needs.
struct Headers {
    lfanew: usize,
    image_base: u32,
    entry: u32,
    size_of_image: u32,
    size_of_headers: u32,
    section_alignment: u32,
    file_alignment: u32,
    import_rva: u32,
    /// Offset of the section table in the file.
    table: usize,
    sections: Vec<Sect>,
}

#[derive(Clone)]
struct Sect {
    name: [u8; 8],
    vsize: u32,
    va: u32,
    raw_size: u32,
    raw_ptr: u32,
}

/// Reads the headers of a 32-bit x86 PE.
fn headers(data: &[u8]) -> Option<Headers> {
    if !data.starts_with(b"MZ") {
        return None;
    }
    let lfanew = usize::try_from(le32(data, 0x3C)?).ok()?;
    if lfanew > 0x1000 || data.get(lfanew..lfanew.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    // i386 only.
    if le16(data, lfanew + 4)? != 0x14C {
        return None;
    }
    let count = usize::from(le16(data, lfanew + 6)?);
    let opt_size = usize::from(le16(data, lfanew + 20)?);
    let opt = lfanew + 24;
    if le16(data, opt)? != 0x10B || count == 0 || count > 96 {
        return None;
    }
    let table = opt + opt_size;
    let mut sections = Vec::with_capacity(count);
    for i in 0..count {
        let s = data.get(table + i * 40..table + i * 40 + 40)?;
        let mut name = [0u8; 8];
        name.copy_from_slice(s.get(..8)?);
        sections.push(Sect {
            name,
            vsize: le32(s, 8)?,
            va: le32(s, 12)?,
            raw_size: le32(s, 16)?,
            raw_ptr: le32(s, 20)?,
        });
    }
    let dirs = le32(data, opt + 92).unwrap_or(0);
    Some(Headers {
        lfanew,
        image_base: le32(data, opt + 28)?,
        entry: le32(data, opt + 16)?,
        size_of_image: le32(data, opt + 56)?,
        size_of_headers: le32(data, opt + 60)?,
        section_alignment: le32(data, opt + 32)?,
        file_alignment: le32(data, opt + 36)?,
        import_rva: if dirs > 1 {
            le32(data, opt + 104).unwrap_or(0)
        } else {
            0
        },
        table,
        sections,
    })
}

impl Headers {
    /// Where the loader reads section `s` from in the file, and how much.
    fn raw_range(&self, s: &Sect, file_len: usize) -> (usize, usize) {
        // Windows rounds the file offset down to 512 when the file
        // alignment is at least that; Upack relies on it.
        let ptr = if self.file_alignment >= 0x200 {
            s.raw_ptr & !0x1FF
        } else {
            s.raw_ptr
        };
        let fa = self.file_alignment.max(1);
        let mut size = s
            .raw_size
            .checked_next_multiple_of(fa)
            .unwrap_or(s.raw_size);
        if s.vsize != 0 {
            let sa = self.section_alignment.max(1);
            size = size.min(s.vsize.checked_next_multiple_of(sa).unwrap_or(s.vsize));
        }
        let start = (ptr as usize).min(file_len);
        let end = start.saturating_add(size as usize).min(file_len);
        (start, end)
    }

    /// The section holding `rva`.
    fn section_of(&self, rva: u32) -> Option<usize> {
        let sa = self.section_alignment.max(1);
        self.sections.iter().position(|s| {
            let len = s
                .vsize
                .max(s.raw_size)
                .checked_next_multiple_of(sa)
                .unwrap_or(s.vsize);
            rva >= s.va && rva - s.va < len
        })
    }

    /// Bytes at the entry point as they lie in the file.
    fn entry_bytes<'d>(&self, data: &'d [u8]) -> Option<&'d [u8]> {
        let i = self.section_of(self.entry)?;
        let s = self.sections.get(i)?;
        let (start, end) = self.raw_range(s, data.len());
        let at = start.checked_add((self.entry - s.va) as usize)?;
        data.get(at..end)
    }
}

/// `pattern` at the start of `bytes`, `None` matching any byte.
fn matches(bytes: &[u8], pattern: &[Option<u8>]) -> bool {
    bytes.len() >= pattern.len()
        && pattern
            .iter()
            .zip(bytes)
            .all(|(p, b)| p.is_none_or(|p| p == *b))
}

/// Spells a pattern: bytes as hex, `??` for any byte.
fn pat(s: &str) -> Vec<Option<u8>> {
    s.split_whitespace()
        .map(|t| u8::from_str_radix(t, 16).ok())
        .collect()
}

/// The packer of `data`, from a few bytes at the entry point and the
/// section names: no emulation, no scan of the file.
pub(crate) fn recognise(data: &[u8]) -> Option<Packer> {
    let h = headers(data)?;
    // No entry point: nothing runs (an image a stub left part way is
    // written so, and is not unpacked again).
    if h.entry == 0 {
        return None;
    }
    let ep = h.entry_bytes(data).or_else(|| {
        // MEW and Upack start in bytes the headers hold.
        data.get(h.entry as usize..)
    })?;
    let ep_section = h.section_of(h.entry).and_then(|i| h.sections.get(i));
    let named = |n: &[u8]| ep_section.is_some_and(|s| s.name.starts_with(n));
    // ASPack 2.x: pushad; call +3; jmp...; its section `.aspack`.
    if matches(ep, &pat("60 E8 03 00 00 00 E9 EB")) && named(b".aspack") {
        return Some(Packer::Aspack);
    }
    if matches(ep, &pat("60 E8 03 00 00 00 E9 EB 04 5D 45 55 C3 E8 01")) {
        return Some(Packer::Aspack);
    }
    // MEW 11: a jump into the headers, from a second section after the
    // empty one named `MEW`.
    if ep.first() == Some(&0xE9)
        && h.sections
            .first()
            .is_some_and(|s| s.name.starts_with(b"MEW"))
    {
        return Some(Packer::Mew);
    }
    // Petite 2.x: mov eax, IMM; push IMM; push dword fs:[0]; mov fs:[0], esp.
    if matches(
        ep,
        &pat("B8 ?? ?? ?? ?? 68 ?? ?? ?? ?? 64 FF 35 00 00 00 00 64 89 25 00 00 00 00"),
    ) {
        return Some(Packer::Petite);
    }
    // PESpin 1.x: jmp over a junk byte; pushad; call $+5; mov ebx, [esp].
    if matches(
        ep,
        &pat("EB 01 68 60 E8 00 00 00 00 8B 1C 24 83 C3 12 81 2B E8 B1 06 00"),
    ) {
        return Some(Packer::Pespin);
    }
    // Upack: its loader name in the DOS header, PE header at 0x10.
    if data.get(2..14) == Some(b"KERNEL32.DLL") && h.lfanew == 0x10 {
        return Some(Packer::Upack);
    }
    // WWPack32 1.x: names itself in the stub.
    if matches(ep, &pat("53 55 8B E8 33 DB EB 60")) && ep.get(12..20) == Some(b"WWPack32") {
        return Some(Packer::Wwpack);
    }
    // yC 1.3: push ebp; mov ebp, esp; push ebx/esi/edi; pushad; call $+5;
    // pop ebp; sub ebp, IMM; in its section `yC`.
    if matches(ep, &pat("55 8B EC 53 56 57 60 E8 00 00 00 00 5D 81 ED")) && named(b"yC") {
        return Some(Packer::Yc);
    }
    None
}

pub(crate) fn detect(data: &[u8]) -> bool {
    recognise(data).is_some()
}

/// Fixed addresses of the emulated process, outside any image a PE may
/// ask for within [`MAX_IMAGE`] of its base (checked when loading).
const STACK_TOP: u32 = 0x0030_0000;
const STACK_SIZE: u32 = 0x0010_0000;
/// The exception record Windows puts at the top of the stack.
const FIRST_SEH: u32 = STACK_TOP - 0x20;
/// The thread block (`fs`), the process block after it.
const TEB: u32 = 0x7FFD_E000;
const PEB: u32 = 0x7FFD_F000;
/// Stand-ins for Windows functions: each a [`SLOT`]-byte slot; running
/// one calls [`Run::api`].
const API_BASE: u32 = 0x7E00_0000;
const API_SLOTS: u32 = 4096;
const SLOT: u32 = 32;
/// Handles of the modules a stub asks for.
const MODULE_BASE: u32 = 0x7C00_0000;
/// The first bytes of every stand-in: the prologue Windows' own
/// functions start with (`mov edi, edi; push ebp; mov ebp, esp`), then
/// `nop`s to the end of the slot. PESpin copies a function's first
/// instructions (16 bytes or more) into its own memory, runs them there
/// and jumps past them into the function: a stand-in entered at its
/// start runs as called; entered after the prologue, `ebp` is first
/// popped as the function's epilogue would.
const PROLOGUE: &[u8] = &[0x8B, 0xFF, 0x55, 0x8B, 0xEC];
/// The size of the `CONTEXT` an exception handler is given.
const CONTEXT_SIZE: u32 = 0x2CC;
/// The process id `GetCurrentProcessId` gives (any id Windows could).
const PROCESS_ID: u32 = 0x4D8;
/// The handle of the packed file, opened by the stub.
const FILE_HANDLE: u32 = 0x100;
/// Where a handler returns to after an exception.
const SEH_RETURN: u32 = STAND_INS + API_SLOTS * SLOT;
/// The stand-ins themselves, after the headers of the `kernel32.dll`
/// that exports them (at [`API_BASE`]).
const STAND_INS: u32 = API_BASE + PAGE;
/// The functions the fake `kernel32.dll` exports by name, in the order
/// of their slots (sorted, as export tables are).
const EXPORTS: &[&[u8]] = &[
    b"CloseHandle",
    b"CreateFileA",
    b"CreateThread",
    b"ExitProcess",
    b"GetCommandLineA",
    b"GetCurrentProcessId",
    b"GetFileSize",
    b"GetModuleFileNameA",
    b"GetModuleHandleA",
    b"GetProcAddress",
    b"GetStartupInfoA",
    b"GetTickCount",
    b"GlobalAlloc",
    b"GlobalFree",
    b"IsDebuggerPresent",
    b"LoadLibraryA",
    b"LocalAlloc",
    b"LocalFree",
    b"OpenProcess",
    b"ReadFile",
    b"SetFilePointer",
    b"Sleep",
    b"TerminateProcess",
    b"UnhandledExceptionFilter",
    b"VirtualAlloc",
    b"VirtualFree",
    b"VirtualProtect",
];
/// The functions the fake `user32.dll` exports: what the programs
/// these packers wrap import from it most (ClamAV's test program
/// imports `MessageBoxA`). Other modules export nothing.
const USER32_EXPORTS: &[&[u8]] = &[b"MessageBoxA", b"MessageBoxW", b"wsprintfA"];
/// Where a fake module's export table ends (its page holds nothing
/// after it but `kernel32`'s command line).
const EXPORT_END: u32 = 0xF00;
/// What `GetCommandLineA` returns, in the `kernel32.dll` page.
const COMMAND_LINE: u32 = API_BASE + EXPORT_END;
/// Memory `VirtualAlloc` hands out.
const HEAP_BASE: u32 = 0x1000_0000;
const HEAP_END: u32 = 0x3000_0000;

/// What ended the run.
enum End {
    /// The stub jumped to the original entry point (an RVA).
    Oep(u32),
    /// Something stopped it: the problem to report.
    Stopped(Issue),
}

struct Run<'d> {
    cpu: Cpu,
    h: Headers,
    data: &'d [u8],
    packer: Packer,
    /// Functions handed out, by slot.
    apis: Vec<Vec<u8>>,
    /// Module names handed out, by index from [`MODULE_BASE`].
    modules: Vec<Vec<u8>>,
    heap: u32,
    exceptions: u32,
    /// Exception handlers running (their code may lie in the unpacked
    /// image; running one is not reaching the program): for each, the
    /// end of the context handed to it. A handler that does not return
    /// but resumes itself on the stack it faulted on (PESpin's do) has
    /// left when the stack pointer is above that.
    handlers: Vec<u32>,
    /// Where the last instruction ran.
    from: u32,
    /// The address after the last instruction run.
    after: u32,
    /// Position in the packed file, for the stub reading itself.
    file_pos: u32,
    /// Instructions the stub may run ([`MAX_INSTRUCTIONS`]; less in tests).
    max_instructions: u64,
    /// The stand-in Windows calls when no handler takes an exception.
    unhandled: u32,
    /// Pages of the image written since loading.
    written: std::collections::HashSet<u32>,
    /// The last addresses run, for tests' traces.
    #[cfg(test)]
    last: std::collections::VecDeque<u32>,
}

fn stopped<T>(packer: Packer, msg: impl std::fmt::Display) -> Result<T, End> {
    Err(End::Stopped(Issue::unsupported(format!(
        "{}: {msg}",
        packer.name()
    ))))
}

impl<'d> Run<'d> {
    fn load(data: &'d [u8], packer: Packer) -> Result<Run<'d>, Issue> {
        let corrupt = |m: &str| Issue::corrupt(format!("{}: {m}", packer.name()));
        let h = headers(data).ok_or_else(|| corrupt("the PE headers are damaged"))?;
        let base = h.image_base;
        if base % 0x1_0000 != 0
            || h.size_of_image == 0
            || h.size_of_image > MAX_IMAGE
            || base < STACK_TOP
            || u64::from(base) + u64::from(h.size_of_image) > u64::from(MODULE_BASE)
            || (base < HEAP_END && base.saturating_add(h.size_of_image) > HEAP_BASE)
        {
            return Err(Issue::unsupported(format!(
                "{}: image base {base:#x} and size {:#x} are not loaded",
                packer.name(),
                h.size_of_image
            )));
        }
        let mut mem = Memory::new(MAX_PAGES);
        let size = h.size_of_image.next_multiple_of(PAGE);
        let ok = mem.map(base, size)
            && mem.map(STACK_TOP - STACK_SIZE, STACK_SIZE)
            && mem.map(TEB, 2 * PAGE)
            && mem.map(API_BASE, PAGE + API_SLOTS * SLOT + PAGE);
        if !ok {
            return Err(Issue::limit(
                "max-filesize",
                format!(
                    "{}: the image does not fit the emulator's memory",
                    packer.name()
                ),
            ));
        }
        let head_len = (h.size_of_headers as usize)
            .min(data.len())
            .min(size as usize);
        let _ = mem.load(base, data.get(..head_len).unwrap_or(&[]));
        for s in &h.sections {
            let (start, end) = h.raw_range(s, data.len());
            if s.va >= size {
                continue;
            }
            let room = (size - s.va) as usize;
            let bytes = data.get(start..end).unwrap_or(&[]);
            let bytes = bytes.get(..bytes.len().min(room)).unwrap_or(&[]);
            let _ = mem.load(base + s.va, bytes);
        }
        let mut cpu = Cpu::new(mem);
        cpu.fs_base = TEB;
        // Windows starts a process with the last exception record of the
        // chain 0x1C bytes above the stack pointer (Petite finds its stack
        // from it), and the return address to the process start below.
        cpu.regs[ESP] = FIRST_SEH - 0x18;
        // The state Windows starts a process in, as far as stubs look:
        // eax the entry point, ebx the process block, esi/edi/ebp as the
        // loader leaves them.
        cpu.regs[EAX] = base.wrapping_add(h.entry);
        cpu.regs[EBX] = PEB;
        cpu.regs[EBP] = STACK_TOP - 0x10;
        cpu.regs[ECX] = STACK_TOP - 0x20;
        cpu.regs[EDX] = base.wrapping_add(h.entry);
        cpu.regs[ESI] = 0xFFFF_FFFF;
        cpu.regs[EDI] = 0;
        cpu.eip = base.wrapping_add(h.entry);
        // TEB: no exception handler yet (the end of the chain), stack
        // bounds, itself, the process block; PEB: the image base.
        let m = &mut cpu.mem;
        let _ = m.write32(TEB, FIRST_SEH);
        let _ = m.write32(FIRST_SEH, 0xFFFF_FFFF);
        let _ = m.write32(TEB + 4, STACK_TOP);
        let _ = m.write32(TEB + 8, STACK_TOP - STACK_SIZE);
        let _ = m.write32(TEB + 0x18, TEB);
        let _ = m.write32(TEB + 0x30, PEB);
        let _ = m.write32(PEB + 8, base);
        // The loader's list of modules with the program alone in it (yC
        // changes the size it records there, against dumping tools).
        let (ldr, module) = (PEB + 0x100, PEB + 0x200);
        let _ = m.write32(PEB + 0xC, ldr);
        let _ = m.write32(ldr, 0x28);
        let _ = m.write32(ldr + 4, 1);
        for (list, link) in [(0xCu32, 0u32), (0x14, 8), (0x1C, 0x10)] {
            let _ = m.write32(ldr + list, module + link);
            let _ = m.write32(ldr + list + 4, module + link);
            let _ = m.write32(module + link, ldr + list);
            let _ = m.write32(module + link + 4, ldr + list);
        }
        let _ = m.write32(module + 0x18, base);
        let _ = m.write32(module + 0x1C, base.wrapping_add(h.entry));
        let _ = m.write32(module + 0x20, h.size_of_image);
        // ExitProcess as the return address of the entry point.
        let mut run = Run {
            cpu,
            h,
            data,
            packer,
            apis: Vec::new(),
            modules: Vec::new(),
            heap: HEAP_BASE,
            exceptions: 0,
            handlers: Vec::new(),
            from: 0,
            file_pos: 0,
            after: 0,
            max_instructions: MAX_INSTRUCTIONS,
            unhandled: 0,
            written: std::collections::HashSet::new(),
            #[cfg(test)]
            last: std::collections::VecDeque::new(),
        };
        run.kernel32();
        let last = run.api_slot(b"UnhandledExceptionFilter");
        let _ = run.cpu.mem.write32(FIRST_SEH + 4, last);
        run.unhandled = last;
        let exit = run.api_slot(b"ExitProcess");
        let sp = run.cpu.regs[ESP].wrapping_sub(4);
        let _ = run.cpu.mem.write32(sp, exit);
        run.cpu.regs[ESP] = sp;
        run.imports();
        Ok(run)
    }

    /// Writes the headers and export table of a `kernel32.dll` at
    /// [`API_BASE`] whose exports are the stand-ins: stubs that find
    /// their functions by walking a module's exports, or look for the
    /// module's `MZ` below a function, find ours.
    fn kernel32(&mut self) {
        self.fake_module(API_BASE, b"KERNEL32.dll", EXPORTS);
        let _ = self.cpu.mem.load(COMMAND_LINE, b"\"C:\\program.exe\"\0");
    }

    /// Writes, in the page at `base`, the headers and export table of a
    /// module named `dll` exporting the stand-ins for `exports` (sorted
    /// by name, as Windows' export tables are and as stubs that search
    /// them by halves expect).
    fn fake_module(&mut self, base: u32, dll: &[u8], exports: &[&[u8]]) {
        let slots: Vec<u32> = exports.iter().map(|n| self.api_slot(n)).collect();
        let mut page = vec![0u8; PAGE as usize];
        let mut put = |at: usize, v: &[u8]| {
            if let Some(d) = page.get_mut(at..at + v.len()) {
                d.copy_from_slice(v);
            }
        };
        put(0, b"MZ");
        put(0x3C, &0x40u32.to_le_bytes());
        put(0x40, b"PE\0\0");
        put(0x44, &0x14Cu16.to_le_bytes());
        put(0x54, &0xE0u16.to_le_bytes());
        put(0x56, &0x2102u16.to_le_bytes());
        let opt = 0x58;
        put(opt, &0x10Bu16.to_le_bytes());
        put(opt + 28, &base.to_le_bytes());
        put(opt + 32, &PAGE.to_le_bytes());
        put(opt + 36, &0x200u32.to_le_bytes());
        let size = if base == API_BASE {
            PAGE + API_SLOTS * SLOT
        } else {
            PAGE
        };
        put(opt + 56, &size.to_le_bytes());
        put(opt + 60, &PAGE.to_le_bytes());
        put(opt + 92, &16u32.to_le_bytes());
        let n = exports.len();
        let (dir, funcs) = (0x200usize, 0x240usize);
        let (names, ords) = (funcs + 4 * n, funcs + 8 * n);
        let strings = (ords + 2 * n).next_multiple_of(16);
        put(opt + 96, &(dir as u32).to_le_bytes());
        put(opt + 100, &(EXPORT_END - dir as u32).to_le_bytes());
        put(dir + 12, &(strings as u32).to_le_bytes());
        put(dir + 16, &1u32.to_le_bytes());
        put(dir + 20, &(n as u32).to_le_bytes());
        put(dir + 24, &(n as u32).to_le_bytes());
        put(dir + 28, &(funcs as u32).to_le_bytes());
        put(dir + 32, &(names as u32).to_le_bytes());
        put(dir + 36, &(ords as u32).to_le_bytes());
        put(strings, dll);
        let mut at = strings + dll.len() + 1;
        for (i, (name, slot)) in exports.iter().zip(slots).enumerate() {
            put(funcs + 4 * i, &slot.wrapping_sub(base).to_le_bytes());
            put(names + 4 * i, &(at as u32).to_le_bytes());
            put(ords + 2 * i, &(i as u16).to_le_bytes());
            put(at, name);
            at += name.len() + 1;
        }
        let _ = self.cpu.mem.load(base, &page);
    }

    /// The address of the stand-in for function `name`.
    fn api_slot(&mut self, name: &[u8]) -> u32 {
        let i = match self.apis.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                if self.apis.len() as u32 >= API_SLOTS {
                    // Out of slots: an address no function is at.
                    return STAND_INS + API_SLOTS * SLOT - SLOT;
                }
                self.apis.push(name.to_vec());
                let at = STAND_INS + (self.apis.len() as u32 - 1) * SLOT;
                let _ = self.cpu.mem.load(at, PROLOGUE);
                let nops = [0x90u8; (SLOT as usize) - PROLOGUE.len()];
                let _ = self.cpu.mem.load(at + PROLOGUE.len() as u32, &nops);
                self.apis.len() - 1
            }
        };
        STAND_INS + i as u32 * SLOT
    }

    /// The handle of module `name` (case-insensitive).
    fn module(&mut self, name: &[u8]) -> u32 {
        let name = name.to_ascii_lowercase();
        let name = name.strip_suffix(b".dll").unwrap_or(&name).to_vec();
        if name == b"kernel32" {
            return API_BASE;
        }
        let i = match self.modules.iter().position(|n| *n == name) {
            Some(i) => i,
            None => {
                if self.modules.len() >= 256 {
                    return MODULE_BASE;
                }
                let base = MODULE_BASE + self.modules.len() as u32 * 0x1_0000;
                // A module the stub may walk the exports of, as of
                // kernel32; a module whose page cannot be mapped is
                // still a handle (reading it faults in the stub).
                if self.cpu.mem.map(base, PAGE) {
                    let mut dll = name.to_ascii_uppercase();
                    dll.extend_from_slice(b".dll");
                    let exports = if name == b"user32" {
                        USER32_EXPORTS
                    } else {
                        &[]
                    };
                    self.fake_module(base, &dll, exports);
                }
                self.modules.push(name);
                self.modules.len() - 1
            }
        };
        MODULE_BASE + i as u32 * 0x1_0000
    }

    /// Fills the import address table as the loader does.
    fn imports(&mut self) {
        let base = self.h.image_base;
        if self.h.import_rva == 0 {
            return;
        }
        for d in 0..256u32 {
            let at = base.wrapping_add(self.h.import_rva).wrapping_add(d * 20);
            let Ok(lookup) = self.cpu.mem.read32(at) else {
                return;
            };
            let Ok(name) = self.cpu.mem.read32(at + 12) else {
                return;
            };
            let Ok(first) = self.cpu.mem.read32(at + 16) else {
                return;
            };
            if name == 0 || first == 0 {
                return;
            }
            if let Some(n) = self.cpu.mem.cstr(base.wrapping_add(name), 256) {
                self.module(&n);
            }
            let lookup = if lookup == 0 { first } else { lookup };
            for t in 0..4096u32 {
                let Ok(entry) = self
                    .cpu
                    .mem
                    .read32(base.wrapping_add(lookup).wrapping_add(t * 4))
                else {
                    break;
                };
                if entry == 0 {
                    break;
                }
                let func = if entry & 0x8000_0000 != 0 {
                    format!("#{}", entry & 0xFFFF).into_bytes()
                } else {
                    match self
                        .cpu
                        .mem
                        .cstr(base.wrapping_add(entry).wrapping_add(2), 256)
                    {
                        Some(n) => n,
                        None => break,
                    }
                };
                let slot = self.api_slot(&func);
                let _ = self
                    .cpu
                    .mem
                    .write32(base.wrapping_add(first).wrapping_add(t * 4), slot);
            }
        }
    }

    fn in_image(&self, addr: u32) -> Option<u32> {
        let rva = addr.wrapping_sub(self.h.image_base);
        (rva < self.h.size_of_image).then_some(rva)
    }

    /// Runs until the original entry point or a stop.
    fn run(&mut self, ctx: &Ctx) -> End {
        match self.go(ctx) {
            Ok(oep) => End::Oep(oep),
            Err(e) => e,
        }
    }

    fn go(&mut self, ctx: &Ctx) -> Result<u32, End> {
        let entry_section = self.h.section_of(self.h.entry);
        let first_va = self.h.sections.iter().map(|s| s.va).min().unwrap_or(0);
        let mut steps = 0u32;
        while self.cpu.executed < self.max_instructions {
            steps = steps.wrapping_add(1);
            if steps.is_multiple_of(0x1_0000) && ctx.check_time().is_err() {
                return Err(End::Stopped(Issue::limit(
                    "time",
                    format!(
                        "{}: the scan's time ran out while the stub ran",
                        self.packer.name()
                    ),
                )));
            }
            let eip = self.cpu.eip;
            #[cfg(test)]
            if std::env::var("TRACE_AT")
                .ok()
                .and_then(|v| u32::from_str_radix(&v, 16).ok())
                == Some(eip)
                || std::env::var("TRACE_ALL").is_ok()
            {
                eprintln!(
                    "at {eip:#x} {:?} regs {:x?} fl {:x}",
                    self.cpu.decode().map(|i| i.code()),
                    self.cpu.regs,
                    self.cpu.eflags
                );
            }
            let esp = self.cpu.regs[ESP];
            while self.handlers.last().is_some_and(|end| esp > *end) {
                self.handlers.pop();
            }
            if (STAND_INS..SEH_RETURN).contains(&eip) {
                let slot = (eip - STAND_INS) / SLOT;
                match (eip - STAND_INS) % SLOT {
                    0 => {}
                    // The prologue ran, here or copied by the stub.
                    n if n as usize >= PROLOGUE.len() => {
                        let ebp = self
                            .cpu
                            .pop()
                            .or_else(|_| stopped(self.packer, "the stack ran out in a call"))?;
                        self.cpu.regs[EBP] = ebp;
                    }
                    n => {
                        let name = self.apis.get(slot as usize).map_or_else(
                            || "a function".into(),
                            |n| String::from_utf8_lossy(n).into_owned(),
                        );
                        return stopped(
                            self.packer,
                            format!("the stub jumped to {name}+{n}, inside its code"),
                        );
                    }
                }
                self.api(slot)?;
                continue;
            }
            if eip == SEH_RETURN {
                self.seh_return()?;
                continue;
            }
            if let Some(rva) = self.in_image(eip) {
                let page = rva / PAGE;
                let section = self.h.section_of(rva);
                // MEW and Upack unpack everything into their first
                // section and run their loaders elsewhere; Upack starts
                // in the first section too, in a page it has not written.
                let original = match self.packer {
                    Packer::Mew | Packer::Upack => section == Some(0),
                    _ => section != entry_section,
                };
                let entered =
                    self.in_image(self.from).map(|r| self.h.section_of(r)) != Some(section);
                // PESpin runs the program's first instructions (taken
                // from its entry point) in its own section, and they call
                // the program's functions (as `call`, or `push` of the
                // next address and `jmp`): a jump that leaves the address
                // after it on the stack is a call, not the jump to the
                // program.
                let call = self.packer == Packer::Pespin
                    && self.cpu.mem.read32(self.cpu.regs[ESP]).ok() == Some(self.after);
                if rva >= first_va
                    && original
                    && entered
                    && !call
                    && self.handlers.is_empty()
                    && self.written.contains(&page)
                {
                    return Ok(rva);
                }
            }
            self.from = eip;
            match self.step() {
                Ok(()) => {}
                Err(Exception::Unsupported(what)) => {
                    return stopped(
                        self.packer,
                        format!("the stub uses {what}, which is not emulated"),
                    );
                }
                Err(e) => self.raise(e)?,
            }
        }
        stopped(
            self.packer,
            format!(
                "the stub ran {} instructions without reaching the program",
                self.max_instructions
            ),
        )
    }

    /// One instruction, noting the image pages it writes.
    fn step(&mut self) -> Result<(), Exception> {
        // Writes are seen by comparing the pages an instruction may touch
        // would cost too much; instead the emulator is asked after each
        // store. Cheap approximation: the memory operand's page and the
        // string destination's.
        #[cfg(test)]
        {
            self.last.push_back(self.cpu.eip);
            if self.last.len() > 24 {
                self.last.pop_front();
            }
        }
        let before = (self.cpu.regs[EDI], self.cpu.regs[ESP]);
        let ins = self.cpu.decode()?;
        let mem_addr = if ins.op_count() > 0 && ins.op0_kind() == iced_x86::OpKind::Memory {
            self.effective(&ins)
        } else {
            None
        };
        self.after = ins.next_ip32();
        self.cpu.step()?;
        let base = self.h.image_base;
        let mut note = |a: u32| {
            let rva = a.wrapping_sub(base);
            if rva < self.h.size_of_image {
                self.written.insert(rva / PAGE);
            }
        };
        if let Some(a) = mem_addr {
            note(a);
        }
        let edi = self.cpu.regs[EDI];
        if edi != before.0 {
            note(before.0);
            note(edi.wrapping_sub(1));
        }
        let _ = before.1;
        Ok(())
    }

    fn effective(&self, ins: &iced_x86::Instruction) -> Option<u32> {
        use iced_x86::Register;
        let reg = |r: Register| -> u32 {
            match r {
                Register::EAX => self.cpu.regs[EAX],
                Register::ECX => self.cpu.regs[ECX],
                Register::EDX => self.cpu.regs[EDX],
                Register::EBX => self.cpu.regs[EBX],
                Register::ESP => self.cpu.regs[ESP],
                Register::EBP => self.cpu.regs[EBP],
                Register::ESI => self.cpu.regs[ESI],
                Register::EDI => self.cpu.regs[EDI],
                _ => 0,
            }
        };
        let a = ins
            .memory_displacement32()
            .wrapping_add(reg(ins.memory_base()))
            .wrapping_add(reg(ins.memory_index()).wrapping_mul(ins.memory_index_scale()));
        Some(a)
    }

    /// Stdcall arguments.
    fn arg(&self, i: u32) -> Result<u32, End> {
        self.cpu
            .mem
            .read32(self.cpu.regs[ESP].wrapping_add(4 + 4 * i))
            .or_else(|_| stopped(self.packer, "the stack ran out in a call"))
    }

    /// Returns from a stand-in with `eax`, removing `args` arguments.
    fn ret(&mut self, eax: u32, args: u32) -> Result<(), End> {
        let to = self
            .cpu
            .pop()
            .or_else(|_| stopped(self.packer, "the stack ran out in a call"))?;
        self.cpu.regs[ESP] = self.cpu.regs[ESP].wrapping_add(4 * args);
        self.cpu.regs[EAX] = eax;
        self.cpu.eip = to;
        self.cpu.executed += 1;
        Ok(())
    }

    fn string_arg(&self, i: u32) -> Result<Vec<u8>, End> {
        let p = self.arg(i)?;
        self.cpu.mem.cstr(p, 256).map_or_else(
            || {
                stopped(
                    self.packer,
                    format!("a function was given a bad string at {p:#x}"),
                )
            },
            Ok,
        )
    }

    /// Carries out the stand-in in `slot`.
    fn api(&mut self, slot: u32) -> Result<(), End> {
        let Some(name) = self.apis.get(slot as usize).cloned() else {
            return stopped(
                self.packer,
                format!("the stub jumped to {:#x}", self.cpu.eip),
            );
        };
        #[cfg(test)]
        if std::env::var_os("TRACE_API").is_some() {
            eprintln!(
                "api {} at {:#x} from {:x?} after {} args {:x?} {:?}",
                String::from_utf8_lossy(&name),
                self.cpu.eip,
                self.cpu.mem.read32(self.cpu.regs[ESP]).ok(),
                self.cpu.executed,
                [self.arg(0).ok(), self.arg(1).ok(), self.arg(2).ok()],
                self.arg(0)
                    .ok()
                    .and_then(|p| self.cpu.mem.cstr(p, 64))
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
            );
        }
        match name.as_slice() {
            b"LoadLibraryA" | b"GetModuleHandleA" => {
                let p = self.arg(0)?;
                let h = if p == 0 {
                    self.h.image_base
                } else {
                    let n = self.string_arg(0)?;
                    self.module(&n)
                };
                self.ret(h, 1)
            }
            b"GetProcAddress" => {
                let f = self.arg(1)?;
                let name = if f < 0x1_0000 {
                    format!("#{f}").into_bytes()
                } else {
                    self.string_arg(1)?
                };
                let slot = self.api_slot(&name);
                self.ret(slot, 2)
            }
            b"VirtualAlloc" => {
                let (want, size) = (self.arg(0)?, self.arg(1)?);
                let size = size.checked_next_multiple_of(PAGE).unwrap_or(0);
                let at = if want != 0 && self.cpu.mem.is_mapped(want) {
                    want & !(PAGE - 1)
                } else {
                    self.heap
                };
                let fits = size != 0
                    && at
                        .checked_add(size)
                        .is_some_and(|e| e <= HEAP_END || at == want & !(PAGE - 1))
                    && self.cpu.mem.map(at, size);
                if !fits {
                    return self.ret(0, 4);
                }
                if at == self.heap {
                    self.heap = at + size + PAGE;
                }
                self.ret(at, 4)
            }
            b"VirtualFree" => self.ret(1, 3),
            // The stub reading its own file (yC checks it): the packed
            // file's bytes, read-only.
            b"CreateFileA" => {
                let access = self.arg(1)?;
                // Writing is not done: the call fails as on a read-only file.
                if access & 0x4000_0000 != 0 {
                    return self.ret(u32::MAX, 7);
                }
                self.file_pos = 0;
                self.ret(FILE_HANDLE, 7)
            }
            b"GetFileSize" => {
                let (h, high) = (self.arg(0)?, self.arg(1)?);
                if h != FILE_HANDLE {
                    return self.ret(u32::MAX, 2);
                }
                if high != 0 {
                    let _ = self.cpu.mem.write32(high, 0);
                }
                self.ret(self.data.len() as u32, 2)
            }
            b"SetFilePointer" => {
                let (h, to, how) = (self.arg(0)?, self.arg(1)?, self.arg(3)?);
                let len = self.data.len() as u32;
                let pos = match how {
                    0 => to,
                    1 => self.file_pos.wrapping_add(to),
                    _ => len.wrapping_add(to),
                };
                if h != FILE_HANDLE {
                    return self.ret(u32::MAX, 4);
                }
                self.file_pos = pos;
                self.ret(pos, 4)
            }
            b"ReadFile" => {
                let (h, buf, want, got) = (self.arg(0)?, self.arg(1)?, self.arg(2)?, self.arg(3)?);
                if h != FILE_HANDLE {
                    return self.ret(0, 5);
                }
                let from = (self.file_pos as usize).min(self.data.len());
                let bytes = self.data.get(from..).unwrap_or(&[]);
                let n = bytes.len().min(want as usize);
                for (i, b) in bytes.iter().take(n).enumerate() {
                    if self.cpu.mem.write8(buf.wrapping_add(i as u32), *b).is_err() {
                        return self.ret(0, 5);
                    }
                }
                self.file_pos = self.file_pos.wrapping_add(n as u32);
                if got != 0 {
                    let _ = self.cpu.mem.write32(got, n as u32);
                }
                self.ret(1, 5)
            }
            b"CloseHandle" => self.ret(1, 1),
            b"GetCommandLineA" => self.ret(COMMAND_LINE, 0),
            b"GetStartupInfoA" => {
                // STARTUPINFOA: its size, the rest zero (no window
                // position, no redirected handles).
                let info = self.arg(0)?;
                for i in 0..17u32 {
                    let v = if i == 0 { 68 } else { 0 };
                    if self.cpu.mem.write32(info.wrapping_add(4 * i), v).is_err() {
                        return stopped(self.packer, "GetStartupInfoA was given a bad pointer");
                    }
                }
                self.ret(0, 1)
            }
            b"GetCurrentProcessId" => self.ret(PROCESS_ID, 0),
            // Time passes only with the instructions run.
            b"Sleep" => self.ret(0, 1),
            b"GlobalAlloc" | b"LocalAlloc" => {
                let size = self.arg(1)?.checked_next_multiple_of(PAGE).unwrap_or(0);
                let at = self.heap;
                let fits = size != 0
                    && at.checked_add(size).is_some_and(|e| e <= HEAP_END)
                    && self.cpu.mem.map(at, size);
                if !fits {
                    return self.ret(0, 2);
                }
                self.heap = at + size + PAGE;
                self.ret(at, 2)
            }
            b"GlobalFree" | b"LocalFree" => self.ret(0, 1),
            // No debugger, as on a victim's machine.
            b"IsDebuggerPresent" => self.ret(0, 0),
            b"GetTickCount" => {
                let t = (self.cpu.executed / 1000) as u32;
                self.ret(t, 0)
            }
            b"GetModuleFileNameA" => {
                let (buf, size) = (self.arg(1)?, self.arg(2)?);
                let path = b"C:\\program.exe\0";
                let n = path.len().min(size as usize);
                for (i, b) in path.iter().take(n).enumerate() {
                    let _ = self.cpu.mem.write8(buf.wrapping_add(i as u32), *b);
                }
                self.ret(n.saturating_sub(1) as u32, 3)
            }
            b"VirtualProtect" => {
                let old = self.arg(3)?;
                let _ = self.cpu.mem.write32(old, 0x40);
                self.ret(1, 4)
            }
            b"ExitProcess" => stopped(
                self.packer,
                "the stub ended the process before reaching the program",
            ),
            other => stopped(
                self.packer,
                format!(
                    "the stub called {}, which is not emulated",
                    String::from_utf8_lossy(other)
                ),
            ),
        }
    }

    /// Hands exception `e` to the handler at `fs:[0]`, as Windows does.
    fn raise(&mut self, e: Exception) -> Result<(), End> {
        self.exceptions += 1;
        let what = format!("{e:?} at {:#x}", self.cpu.eip);
        if self.exceptions > MAX_EXCEPTIONS {
            return stopped(
                self.packer,
                format!("more than {MAX_EXCEPTIONS} exceptions"),
            );
        }
        let frame = self.cpu.mem.read32(TEB).unwrap_or(0xFFFF_FFFF);
        let handler = self.cpu.mem.read32(frame.wrapping_add(4));
        let Ok(handler) = handler.and_then(|h| {
            if h == self.unhandled {
                Err(Exception::Invalid)
            } else {
                Ok(h)
            }
        }) else {
            return Err(End::Stopped(Issue::corrupt(format!(
                "{}: the stub raised {what} with no handler",
                self.packer.name()
            ))));
        };
        let c = &mut self.cpu;
        // Below the stack in use: the context, then the record.
        let ctx_at = c.regs[ESP].wrapping_sub(0x400) & !3;
        let rec_at = ctx_at.wrapping_sub(0x60);
        let mut w = |a: u32, v: u32| c.mem.write32(a, v);
        let mut ok = true;
        let regs = c.regs;
        let (eip, eflags, dr) = (c.eip, c.eflags, c.dr);
        ok &= w(ctx_at, 0x1_003F).is_ok();
        for (i, off) in [4u32, 8, 0xC, 0x10, 0x14, 0x18].iter().enumerate() {
            let v = dr.get(if i < 4 { i } else { i + 2 }).copied().unwrap_or(0);
            ok &= w(ctx_at + off, v).is_ok();
        }
        for (off, v) in [
            (0x8Cu32, 0u32),
            (0x90, 0x3B),
            (0x94, 0x23),
            (0x98, 0x23),
            (0x9C, regs[EDI]),
            (0xA0, regs[ESI]),
            (0xA4, regs[EBX]),
            (0xA8, regs[EDX]),
            (0xAC, regs[ECX]),
            (0xB0, regs[EAX]),
            (0xB4, regs[EBP]),
            (0xB8, eip),
            (0xBC, 0x1B),
            (0xC0, eflags),
            (0xC4, regs[ESP]),
            (0xC8, 0x23),
        ] {
            ok &= w(ctx_at + off, v).is_ok();
        }
        let (write, addr) = match e {
            Exception::Access { addr, write } => (u32::from(write), addr),
            _ => (0, 0),
        };
        for (off, v) in [
            (0u32, e.code()),
            (4, 0),
            (8, 0),
            (0xC, eip),
            (
                0x10,
                if matches!(e, Exception::Access { .. }) {
                    2
                } else {
                    0
                },
            ),
            (0x14, write),
            (0x18, addr),
        ] {
            ok &= w(rec_at + off, v).is_ok();
        }
        c.regs[ESP] = rec_at;
        for v in [0, ctx_at, frame, rec_at, SEH_RETURN] {
            ok &= c.push(v).is_ok();
        }
        if !ok {
            return stopped(self.packer, format!("the stack ran out raising {what}"));
        }
        c.eflags &= !TF;
        c.eip = handler;
        self.handlers.push(ctx_at.wrapping_add(CONTEXT_SIZE));
        Ok(())
    }

    /// The handler returned: continue where the context says.
    fn seh_return(&mut self) -> Result<(), End> {
        self.handlers.pop();
        let c = &mut self.cpu;
        // The context pointer is the handler's third argument.
        let ctx_at = c.mem.read32(c.regs[ESP].wrapping_add(8)).unwrap_or(0);
        if c.regs[EAX] != 0 {
            return stopped(self.packer, "an exception handler declined the exception");
        }
        let r = |off: u32| c.mem.read32(ctx_at.wrapping_add(off));
        let get = || -> Result<([u32; 8], u32, u32, [u32; 8]), Exception> {
            let regs = [
                r(0xB0)?,
                r(0xAC)?,
                r(0xA8)?,
                r(0xA4)?,
                r(0xC4)?,
                r(0xB4)?,
                r(0xA0)?,
                r(0x9C)?,
            ];
            let dr = [r(4)?, r(8)?, r(0xC)?, r(0x10)?, 0, 0, r(0x14)?, r(0x18)?];
            Ok((regs, r(0xB8)?, r(0xC0)?, dr))
        };
        let Ok((regs, eip, eflags, dr)) = get() else {
            return stopped(self.packer, "an exception handler's context is unreadable");
        };
        c.regs = regs;
        c.eip = eip;
        c.eflags = (eflags & 0xDD5) | 0x202;
        c.dr = dr;
        Ok(())
    }

    /// The image rebuilt as a PE: sections where they lie in memory,
    /// the entry point the original one, trailing zeros cut.
    fn dump(&self, oep: u32) -> Vec<u8> {
        let h = &self.h;
        let mut out = self.cpu.mem.dump(h.image_base, h.size_of_image);
        // The headers as the loader mapped them (stubs that run code in
        // the header page may have overwritten it).
        let head = (h.size_of_headers as usize)
            .min(self.data.len())
            .min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..head), self.data.get(..head)) {
            dst.copy_from_slice(src);
        }
        let end = out.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
        out.truncate(end.max(head));
        let len = out.len() as u32;
        let opt = h.lfanew + 24;
        let mut put = |at: usize, v: u32| {
            if let Some(b) = out.get_mut(at..at + 4) {
                b.copy_from_slice(&v.to_le_bytes());
            }
        };
        put(opt + 16, oep);
        put(opt + 36, h.section_alignment);
        for (i, s) in h.sections.iter().enumerate() {
            let at = h.table + i * 40;
            let size = s
                .vsize
                .max(s.raw_size)
                .checked_next_multiple_of(h.section_alignment.max(1))
                .unwrap_or(s.vsize);
            let raw = len.saturating_sub(s.va).min(size);
            put(at + 16, raw);
            put(at + 20, if raw == 0 { 0 } else { s.va });
        }
        out
    }
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    let Some(packer) = recognise(data) else {
        return Err(Issue::corrupt("no packer stub recognised"));
    };
    let mut run = Run::load(data, packer)?;
    #[cfg(test)]
    if let Some(max) = TEST_MAX_INSTRUCTIONS.with(std::cell::Cell::get) {
        run.max_instructions = max;
    }
    match run.run(ctx) {
        End::Oep(oep) => {
            let image = run.dump(oep);
            let _ = sink(ctx, Entry::new(packer.name(), image));
            Ok(())
        }
        // The stub stopped part way (an instruction or a function not
        // emulated, a fault with no handler, a limit): what it unpacked
        // up to there is still scanned, with the problem on the image.
        End::Stopped(issue) if !run.written.is_empty() => {
            // Its entry point is not known: none (0). With the stub's
            // own, the image would be taken for the packed file again
            // and unpacked again, down to the depth limit (and taken for
            // nested packers by --heuristics).
            let image = run.dump(0);
            let mut entry = Entry::new(packer.name(), image);
            entry.issue = Some(issue);
            let _ = sink(ctx, entry);
            Ok(())
        }
        End::Stopped(issue) => Err(issue),
    }
}

#[cfg(test)]
thread_local! {
    /// A test's own instruction limit, above [`MAX_INSTRUCTIONS`]'s
    /// (which keeps the damaged-sample tests short) for the samples
    /// whose stubs run longer.
    static TEST_MAX_INSTRUCTIONS: std::cell::Cell<Option<u64>> =
        const { std::cell::Cell::new(None) };
}

#[cfg(test)]
pub(crate) fn trace(data: &[u8]) -> String {
    let Some(packer) = recognise(data) else {
        return "not recognised".into();
    };
    let limits = crate::Limits::default();
    let ctx = Ctx::new(&limits, None);
    let mut run = match Run::load(data, packer) {
        Ok(r) => r,
        Err(e) => return format!("{e:?}"),
    };
    if let Some(max) = std::env::var("MAX_INSTRUCTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        run.max_instructions = max;
    }
    let end = run.run(&ctx);
    if let Ok(path) = std::env::var("DUMP_TO") {
        let _ = std::fs::write(
            format!("{path}.{}", packer.name()),
            run.cpu.mem.dump(run.h.image_base, run.h.size_of_image),
        );
    }
    if let Some(at) = std::env::var("DUMP_AT")
        .ok()
        .and_then(|v| u32::from_str_radix(&v, 16).ok())
    {
        eprintln!("{at:#x}: {:02x?}", run.cpu.mem.dump(at, 0x100));
    }
    match end {
        End::Oep(oep) => format!(
            "{}: oep {oep:#x} after {} instructions, {} exceptions, apis {:?}",
            packer.name(),
            run.cpu.executed,
            run.exceptions,
            run.apis
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
        ),
        End::Stopped(i) => format!(
            "{}: {i:?} handlers {} written {:x?} arg2 {:?} after {} at eip {:#x} {:?} regs {:x?} last {:x?}",
            packer.name(),
            run.handlers.len(),
            {
                let mut w: Vec<_> = run.written.iter().collect();
                w.sort();
                w
            },
            run.cpu
                .mem
                .read32(run.cpu.regs[ESP].wrapping_add(8))
                .ok()
                .and_then(|p| run.cpu.mem.cstr(p, 200))
                .map(|v| String::from_utf8_lossy(&v).into_owned()),
            run.cpu.executed,
            run.cpu.eip,
            run.cpu.decode().map(|i| i.code()),
            run.cpu.regs,
            run.last,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::walk;
    use crate::{Format, identify};

    fn sample(name: &str) -> Option<Vec<u8>> {
        let path = format!("/usr/share/clamav-testfiles/{name}");
        match std::fs::read(&path) {
            Ok(d) => Some(d),
            Err(_) if std::env::var_os("CI").is_some() => {
                panic!("{path} is missing (clamav-testfiles)")
            }
            Err(_) => {
                eprintln!("skipped: {path} is missing (Debian package clamav-testfiles)");
                None
            }
        }
    }

    /// Debian's `clamav-testfiles` packed with each packer, and the chain of
    /// `clam.exe` inside.
    const SAMPLES: &[(&str, &str)] = &[
        ("clam-aspack.exe", "aspack!pe@0x4de0"),
        ("clam-mew.exe", "mew!clam.exe"),
        ("clam-pespin.exe", "pespin!pe@0x4de0"),
        ("clam-petite.exe", "petite!clam.exe"),
        ("clam-upack.exe", "upack!clam.exe"),
        ("clam-yc.exe", "yc!upx!pe@0x17e0"),
    ];

    /// ClamAV's packed samples come out with the 544-byte `clam.exe`
    /// inside, byte for byte, at the address the original program had it.
    #[test]
    fn clamav_samples_unpack_to_clam_exe() {
        let Some(clam) = sample("clam.exe") else {
            return;
        };
        // PESpin's stub runs about 1.32 million instructions.
        TEST_MAX_INSTRUCTIONS.with(|m| m.set(Some(2_000_000)));
        for (file, chain) in SAMPLES {
            let Some(data) = sample(file) else { return };
            assert_eq!(identify(&data), Some(Format::PackerStub), "{file}");
            let w = walk(&data, file);
            let found = w.found.iter().find(|f| f.chain == *chain);
            assert!(
                found.is_some_and(|f| f.data == clam),
                "{file}: {:?} {:?}; {}",
                w.chains(),
                w.issues,
                trace(&data)
            );
        }
    }
}

#[cfg(test)]
mod bounds {
    use super::*;
    use crate::packers::testpe::pe;
    use crate::testutil::{random_flips, walk};

    /// ASPack's entry point signature, then `code`: the stub's first
    /// instructions (pushad; call; pop ebp; inc ebp; push ebp; ret; jmp)
    /// end in a call to the byte after the signature.
    fn packed(code: &[u8]) -> Vec<u8> {
        let mut stub = vec![
            0x60, 0xE8, 0x03, 0x00, 0x00, 0x00, 0xE9, 0xEB, 0x04, 0x5D, 0x45, 0x55, 0xC3, 0xE8,
            0x01, 0x00, 0x00, 0x00, 0x90,
        ];
        stub.extend_from_slice(code);
        let mut f = pe(
            &[(b".text", 0x1000, &[0u8; 16]), (b".aspack", 0x2000, &stub)],
            (0x1000, 0x200),
        );
        let opt = 0x98;
        f[opt + 16..opt + 20].copy_from_slice(&0x2000u32.to_le_bytes());
        f[opt + 56..opt + 60].copy_from_slice(&0x3000u32.to_le_bytes());
        f
    }

    fn run(data: &[u8], max: u64) -> (End, Run<'_>) {
        let limits = crate::Limits::default();
        let ctx = Ctx::new(&limits, None);
        let mut r = Run::load(data, Packer::Aspack).unwrap();
        r.max_instructions = max;
        (r.run(&ctx), r)
    }

    /// Runs `code` (after ASPack's first instructions, at [`CODE`]) as
    /// the stub of `packer`.
    fn run_as(code: &[u8], packer: Packer, max: u64) -> (End, Run<'static>) {
        let data: &'static [u8] = Vec::leak(packed(code));
        let limits = crate::Limits::default();
        let ctx = Ctx::new(&limits, None);
        let mut r = Run::load(data, packer).unwrap();
        r.max_instructions = max;
        (r.run(&ctx), r)
    }

    /// Where [`packed`] puts its code.
    const CODE: u32 = 0x40_2000 + 19;

    /// The stand-in for `name` of the fake `kernel32.dll`.
    fn stand_in(name: &[u8]) -> u32 {
        let i = EXPORTS.iter().position(|n| *n == name).unwrap();
        STAND_INS + i as u32 * SLOT
    }

    /// `jmp`/`call` (`op`) at `code`'s end to `to`.
    fn branch(code: &mut Vec<u8>, op: u8, to: u32) {
        let next = CODE + code.len() as u32 + 5;
        code.push(op);
        code.extend_from_slice(&to.wrapping_sub(next).to_le_bytes());
    }

    /// `mov eax, imm32; call eax`.
    fn call_at(code: &mut Vec<u8>, to: u32) {
        code.push(0xB8);
        code.extend_from_slice(&to.to_le_bytes());
        code.extend_from_slice(&[0xFF, 0xD0]);
    }

    /// The exports of the module at `base` in the emulated memory, as a
    /// stub walking its export table finds them: name and address.
    fn exports(r: &Run<'_>, base: u32) -> Vec<(Vec<u8>, u32)> {
        let m = &r.cpu.mem;
        let pe = base + m.read32(base + 0x3C).unwrap();
        let dir = base + m.read32(pe + 0x78).unwrap();
        let size = m.read32(pe + 0x7C).unwrap();
        let n = m.read32(dir + 24).unwrap();
        let (funcs, names, ords) = (
            base + m.read32(dir + 28).unwrap(),
            base + m.read32(dir + 32).unwrap(),
            base + m.read32(dir + 36).unwrap(),
        );
        (0..n)
            .map(|i| {
                let name = m.cstr(base + m.read32(names + 4 * i).unwrap(), 64).unwrap();
                let ord = m.read(ords + 2 * i, 2).unwrap();
                let at = base.wrapping_add(m.read32(funcs + 4 * ord).unwrap());
                // Not a forwarder: the address lies outside the table.
                assert!(at.wrapping_sub(dir) >= size, "{name:?}");
                (name, at)
            })
            .collect()
    }

    #[test]
    fn the_fake_modules_export_their_stand_ins_by_name() {
        let (_, mut r) = run_as(&[0xC3], Packer::Pespin, 0);
        let k32 = exports(&r, API_BASE);
        let want: Vec<_> = EXPORTS.iter().map(|n| (n.to_vec(), stand_in(n))).collect();
        assert_eq!(k32, want);
        assert!(EXPORTS.is_sorted());
        // The table and its names end before the command line.
        let strings = r.cpu.mem.dump(API_BASE, EXPORT_END);
        let last = EXPORTS.last().unwrap();
        assert!(strings.windows(last.len()).any(|w| w == *last));
        let user32 = r.module(b"USER32.dll");
        assert_eq!(r.module(b"user32"), user32);
        let names: Vec<_> = exports(&r, user32)
            .into_iter()
            .map(|(n, at)| {
                let slot = (at - STAND_INS) / SLOT;
                assert_eq!(r.apis[slot as usize], n);
                n
            })
            .collect();
        assert_eq!(names, USER32_EXPORTS);
        let other = r.module(b"advapi32.dll");
        assert_eq!(r.cpu.mem.read(other, 2), Ok(0x5A4D));
        assert!(exports(&r, other).is_empty());
    }

    /// `call` a copy of the prologue that jumps into `to` (as PESpin
    /// runs a function), then `mov edx, esp; jmp $`.
    fn call_copied(code: &mut Vec<u8>, to: u32) {
        let copy = CODE + code.len() as u32 + 5 + 4;
        branch(code, 0xE8, copy);
        code.extend_from_slice(&[0x8B, 0xD4, 0xEB, 0xFE]);
        code.extend_from_slice(&[0x8B, 0xFF, 0x55, 0x8B, 0xEC, 0xB8]);
        code.extend_from_slice(&to.to_le_bytes());
        code.extend_from_slice(&[0xFF, 0xE0]);
    }

    #[test]
    fn a_stand_in_runs_when_entered_after_a_copied_prologue() {
        // mov ebp, 0x11223344; mov ecx, esp; then GetCurrentProcessId
        // entered after its prologue, run elsewhere.
        let mut code = vec![0xBD, 0x44, 0x33, 0x22, 0x11, 0x8B, 0xCC];
        call_copied(&mut code, stand_in(b"GetCurrentProcessId") + 5);
        let (_, r) = run_as(&code, Packer::Pespin, 200);
        assert_eq!(r.cpu.regs[EAX], PROCESS_ID);
        assert_eq!(r.cpu.regs[EBP], 0x1122_3344);
        assert_eq!(r.cpu.regs[ECX], r.cpu.regs[EDX]);
        // Past the prologue and its nops too (the stub copies whole
        // instructions, 16 bytes or more).
        let mut code = vec![0x8B, 0xCC];
        call_copied(&mut code, stand_in(b"GetCommandLineA") + 18);
        let (_, r) = run_as(&code, Packer::Pespin, 200);
        assert_eq!(r.cpu.regs[EAX], COMMAND_LINE);
        assert_eq!(r.cpu.regs[ECX], r.cpu.regs[EDX]);
        assert_eq!(
            r.cpu.mem.cstr(COMMAND_LINE, 64).as_deref(),
            Some(&b"\"C:\\program.exe\""[..])
        );
        // Inside the prologue: no function starts there.
        let mut code = vec![];
        call_at(&mut code, stand_in(b"GetCurrentProcessId") + 2);
        let (end, _) = run_as(&code, Packer::Pespin, 200);
        let End::Stopped(issue) = end else {
            panic!("ran to the end")
        };
        assert!(issue.message.contains("GetCurrentProcessId+2"), "{issue:?}");
    }

    #[test]
    fn startup_info_is_its_size_and_zeros() {
        // sub esp, 68; mov eax, esp; push -1 x 17 ... (filled), then
        // push eax; call GetStartupInfoA; Sleep(5); jmp $
        let mut code = vec![
            0x83, 0xEC, 0x44, 0x89, 0xE7, 0xB0, 0xFF, 0xB9, 0x44, 0, 0, 0,
        ];
        // rep stosb over the buffer, then edi back to its start.
        code.extend_from_slice(&[0xF3, 0xAA, 0x89, 0xE7, 0x57]);
        call_at(&mut code, stand_in(b"GetStartupInfoA"));
        code.extend_from_slice(&[0x6A, 0x05]);
        call_at(&mut code, stand_in(b"Sleep"));
        code.extend_from_slice(&[0xEB, 0xFE]);
        let (_, r) = run_as(&code, Packer::Pespin, 300);
        let info = r.cpu.mem.dump(r.cpu.regs[EDI], 68);
        assert_eq!(info[..4], 68u32.to_le_bytes());
        assert!(info[4..].iter().all(|b| *b == 0), "{info:x?}");
        // Both calls took their arguments off the stack.
        assert_eq!(r.cpu.regs[ESP], r.cpu.regs[EDI]);
    }

    /// Writes `ret` at 0x401000, in the first section.
    fn write_ret() -> Vec<u8> {
        vec![0xBF, 0x00, 0x10, 0x40, 0x00, 0xB0, 0xC3, 0xAA]
    }

    #[test]
    fn a_handler_that_resumes_on_its_own_is_left() {
        // Install a handler; mov ebx, esp; int3. The handler does not
        // return: it takes back the stack it faulted on, unlinks itself
        // and jumps to the unpacked code.
        let mut code = write_ret();
        let handler_at = code.len() + 5 + 7 + 7 + 2 + 1;
        code.push(0x68);
        code.extend_from_slice(&(CODE + handler_at as u32).to_le_bytes());
        code.extend_from_slice(&[0x64, 0xFF, 0x35, 0, 0, 0, 0]);
        code.extend_from_slice(&[0x64, 0x89, 0x25, 0, 0, 0, 0]);
        code.extend_from_slice(&[0x8B, 0xDC, 0xCC]);
        assert_eq!(code.len(), handler_at);
        // mov esp, ebx; pop dword fs:[0]; add esp, 4; jmp 0x401000
        code.extend_from_slice(&[0x8B, 0xE3, 0x64, 0x8F, 0x05, 0, 0, 0, 0, 0x83, 0xC4, 0x04]);
        branch(&mut code, 0xE9, 0x40_1000);
        let (end, r) = run_as(&code, Packer::Pespin, 1000);
        assert!(matches!(end, End::Oep(0x1000)), "{:?}", r.cpu.eip);
        assert_eq!(r.exceptions, 1);
    }

    #[test]
    fn pespin_calls_into_the_program_are_not_its_entry_point() {
        // call 0x401000; push next; jmp 0x401000; next: jmp 0x401001
        let mut code = write_ret();
        branch(&mut code, 0xE8, 0x40_1000);
        let next = CODE + code.len() as u32 + 10;
        code.push(0x68);
        code.extend_from_slice(&next.to_le_bytes());
        branch(&mut code, 0xE9, 0x40_1000);
        branch(&mut code, 0xE9, 0x40_1001);
        let (end, _) = run_as(&code, Packer::Pespin, 1000);
        assert!(matches!(end, End::Oep(0x1001)));
        // Other stubs jump to their program the first time.
        let (end, _) = run_as(&code, Packer::Aspack, 1000);
        assert!(matches!(end, End::Oep(0x1000)));
    }

    #[test]
    fn the_signature_is_recognised_and_nothing_else() {
        assert_eq!(recognise(&packed(&[0xC3])), Some(Packer::Aspack));
        let plain = pe(&[(b".text", 0x1000, &[0x90; 64])], (0x1000, 0x200));
        assert_eq!(recognise(&plain), None);
    }

    #[test]
    fn an_endless_loop_stops_at_the_instruction_limit() {
        let data = packed(&[0xEB, 0xFE]);
        let (end, r) = run(&data, 100_000);
        let End::Stopped(issue) = end else {
            panic!("ran to the end")
        };
        assert!(issue.message.contains("100000 instructions"), "{issue:?}");
        assert_eq!(r.cpu.executed, 100_000);
        // Through the format: a problem, nothing handed out.
        let w = walk(&data, "x.exe");
        assert!(w.found.is_empty());
        assert_eq!(w.issues.len(), 1, "{:?}", w.issues);
    }

    #[test]
    fn a_write_outside_memory_is_a_problem() {
        // mov [0x12345678], eax
        let data = packed(&[0xA3, 0x78, 0x56, 0x34, 0x12]);
        let (end, _) = run(&data, 1000);
        let End::Stopped(issue) = end else {
            panic!("ran to the end")
        };
        assert!(
            issue.message.contains("Access") && issue.message.contains("no handler"),
            "{issue:?}"
        );
    }

    #[test]
    fn a_jump_to_unpacked_code_is_the_original_entry_point() {
        // mov edi, 0x401000; mov al, 0xC3 (ret); stosb; jmp 0x401000
        let data = unpacking();
        let (end, r) = run(&data, 1000);
        let End::Oep(oep) = end else {
            panic!("did not reach the program")
        };
        assert_eq!(oep, 0x1000);
        let image = r.dump(oep);
        assert_eq!(image.get(0x1000), Some(&0xC3));
        let h = headers(&image).unwrap();
        assert_eq!(h.entry, 0x1000);
        assert!(
            h.sections
                .iter()
                .all(|s| s.raw_size == 0 || s.raw_ptr == s.va)
        );
    }

    /// The stub of [`a_jump_to_unpacked_code_is_the_original_entry_point`].
    fn unpacking() -> Vec<u8> {
        let code = [
            0xBF, 0x00, 0x10, 0x40, 0x00, 0xB0, 0xC3, 0xAA, 0xE9, 0x00, 0x00, 0x00, 0x00,
        ];
        let mut data = packed(&code);
        let at = 0x600 + 19 + code.len();
        let disp = 0x1000i64 - (0x2000 + 19 + code.len() as i64);
        data[at - 4..at].copy_from_slice(&(disp as i32).to_le_bytes());
        data
    }

    /// Writes the `fmt_packer` fuzz seeds: built stubs that reach their
    /// entry point, fault, and use an instruction not emulated. No
    /// ClamAV sample is copied.
    #[test]
    #[ignore = "writes fuzz seeds into TAKEDOWN_SEED_DIR"]
    fn write_fuzz_seeds() {
        let Some(dir) = std::env::var_os("TAKEDOWN_SEED_DIR") else {
            return;
        };
        for (name, data) in [
            ("unpacks", unpacking()),
            ("faults", packed(&[0xA3, 0x78, 0x56, 0x34, 0x12])),
            ("fpu", packed(&[0xD9, 0xE8])),
        ] {
            std::fs::write(std::path::Path::new(&dir).join(name), data).unwrap();
        }
    }

    #[test]
    fn an_unemulated_instruction_is_named() {
        // fld1
        let (end, _) = run(&packed(&[0xD9, 0xE8]), 1000);
        let End::Stopped(issue) = end else {
            panic!("ran to the end")
        };
        assert!(issue.message.contains("Fld1"), "{issue:?}");
    }

    fn samples() -> Vec<Vec<u8>> {
        ["aspack", "mew", "petite", "upack", "wwpack", "pespin", "yc"]
            .iter()
            .filter_map(|p| std::fs::read(format!("/usr/share/clamav-testfiles/clam-{p}.exe")).ok())
            .collect()
    }

    #[test]
    fn truncated_samples_never_panic() {
        for data in samples() {
            for cut in (0..data.len()).step_by(data.len() / 8 + 1) {
                let _ = walk(&data[..cut], "x.exe");
            }
        }
    }

    #[test]
    fn damaged_samples_never_panic() {
        for (i, data) in samples().iter().enumerate() {
            random_flips(data, i as u32 + 1, 3, 3, |d| {
                let _ = walk(d, "x.exe");
            });
            // Bytes of the entry point's signature.
            if let Some(h) = headers(data) {
                let ep = h.entry_bytes(data).map_or(0, |b| data.len() - b.len());
                for at in (ep..(ep + 24).min(data.len())).step_by(6) {
                    let mut d = data.clone();
                    d[at] ^= 0x80;
                    let _ = walk(&d, "x.exe");
                }
            }
        }
    }
}

#[cfg(test)]
mod debug {
    #[test]
    #[ignore = "a debugging aid: prints what each sample's stub does"]
    fn trace_samples() {
        let only = std::env::var("ONLY").ok();
        for p in ["aspack", "mew", "pespin", "petite", "upack", "wwpack", "yc"] {
            if only.as_deref().is_some_and(|o| o != p) {
                continue;
            }
            let Ok(d) = std::fs::read(format!("/usr/share/clamav-testfiles/clam-{p}.exe")) else {
                continue;
            };
            eprintln!("{p}: {}", super::trace(&d));
        }
    }
}
