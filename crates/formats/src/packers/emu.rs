//! A small, bounded x86-32 emulator for running a packer's own unpacking
//! stub ([`super::stub`]).
//!
//! It runs user-mode code over a sparse memory of 4 KiB pages: the
//! integer instructions packer stubs use (moves, string operations with
//! `rep`, stack, arithmetic and logic with the flags, shifts and rotates,
//! multiplication and division, jumps, calls, `loop`, `setcc`, bit tests),
//! decoded by `iced-x86`. Anything else (FPU, SSE, system instructions)
//! stops the run with an `unsupported` reason naming the instruction. Every
//! memory access goes to a mapped page or raises an access violation; the
//! number of pages is capped, and the caller bounds the instructions run.
//! Segments are flat, but for `fs`, which points at the thread block the
//! caller maps (Windows keeps the exception handler chain there).

use std::collections::HashMap;

use iced_x86::{ConditionCode, Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register};

/// Page size of the sparse memory.
pub(crate) const PAGE: u32 = 0x1000;

/// Flag bits of EFLAGS.
pub(crate) const CF: u32 = 0x1;
pub(crate) const PF: u32 = 0x4;
pub(crate) const AF: u32 = 0x10;
pub(crate) const ZF: u32 = 0x40;
pub(crate) const SF: u32 = 0x80;
pub(crate) const TF: u32 = 0x100;
pub(crate) const DF: u32 = 0x400;
pub(crate) const OF: u32 = 0x800;
/// The flags `popfd` may change in user mode (the arithmetic ones, TF, DF).
const USER_FLAGS: u32 = CF | PF | AF | ZF | SF | TF | DF | OF;
/// Bits always set in EFLAGS (bit 1, IF).
const FIXED_FLAGS: u32 = 0x202;

/// Why an instruction did not complete: a CPU exception the caller may
/// hand to the program's exception handlers, or something this emulator
/// does not do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Exception {
    /// A read (`write` false) or write of an unmapped address.
    Access { addr: u32, write: bool },
    /// `div`/`idiv` by zero or with a quotient too large.
    Divide,
    /// `int3`.
    Breakpoint,
    /// The trap flag was set: raised after the instruction.
    SingleStep,
    /// A privileged instruction (`hlt`, `cli`, `in`, `out`...).
    Privileged,
    /// An undefined opcode (`ud2`, or bytes that decode to nothing).
    Invalid,
    /// An instruction this emulator does not carry out.
    Unsupported(String),
}

impl Exception {
    /// The Windows exception code, for the handlers.
    pub(crate) fn code(&self) -> u32 {
        match self {
            Exception::Access { .. } => 0xC000_0005,
            Exception::Divide => 0xC000_0094,
            Exception::Breakpoint => 0x8000_0003,
            Exception::SingleStep => 0x8000_0004,
            Exception::Privileged => 0xC000_0096,
            Exception::Invalid | Exception::Unsupported(_) => 0xC000_001D,
        }
    }
}

type Run<T> = Result<T, Exception>;

/// Sparse memory: mapped 4 KiB pages, at most `max_pages` of them.
pub(crate) struct Memory {
    pages: HashMap<u32, Box<[u8]>>,
    max_pages: usize,
}

impl Memory {
    /// Empty memory that may map `max_pages` pages.
    pub(crate) fn new(max_pages: usize) -> Memory {
        Memory {
            pages: HashMap::new(),
            max_pages,
        }
    }

    /// Maps the pages covering `[addr, addr + len)` (zeroed, those not yet
    /// mapped). False if that would pass the page cap or wrap around.
    pub(crate) fn map(&mut self, addr: u32, len: u32) -> bool {
        if len == 0 {
            return true;
        }
        let Some(last) = addr.checked_add(len - 1) else {
            return false;
        };
        let (first, last) = (addr / PAGE, last / PAGE);
        let new = (first..=last)
            .filter(|p| !self.pages.contains_key(p))
            .count();
        if self.pages.len().saturating_add(new) > self.max_pages {
            return false;
        }
        for p in first..=last {
            self.pages
                .entry(p)
                .or_insert_with(|| vec![0u8; PAGE as usize].into_boxed_slice());
        }
        true
    }

    /// Whether `addr` is mapped.
    pub(crate) fn is_mapped(&self, addr: u32) -> bool {
        self.pages.contains_key(&(addr / PAGE))
    }

    pub(crate) fn read8(&self, addr: u32) -> Run<u8> {
        self.pages
            .get(&(addr / PAGE))
            .and_then(|p| p.get((addr % PAGE) as usize).copied())
            .ok_or(Exception::Access { addr, write: false })
    }

    pub(crate) fn write8(&mut self, addr: u32, v: u8) -> Run<()> {
        let slot = self
            .pages
            .get_mut(&(addr / PAGE))
            .and_then(|p| p.get_mut((addr % PAGE) as usize))
            .ok_or(Exception::Access { addr, write: true })?;
        *slot = v;
        Ok(())
    }

    /// Copies the bytes from `addr` on into `buf` up to the first
    /// unmapped one; returns how many. A page at a time: instruction
    /// fetches and reads are most of what a stub costs.
    pub(crate) fn fetch(&self, addr: u32, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() {
            let a = addr.wrapping_add(n as u32);
            let Some(page) = self.pages.get(&(a / PAGE)) else {
                break;
            };
            let off = (a % PAGE) as usize;
            let take = (PAGE as usize - off).min(buf.len() - n);
            match (buf.get_mut(n..n + take), page.get(off..off + take)) {
                (Some(d), Some(s)) => d.copy_from_slice(s),
                _ => break,
            }
            n += take;
        }
        n
    }

    /// Reads `size` (1, 2 or 4) bytes, little-endian.
    pub(crate) fn read(&self, addr: u32, size: u32) -> Run<u32> {
        let mut b = [0u8; 4];
        let size = size.min(4);
        let n = self.fetch(addr, b.get_mut(..size as usize).unwrap_or(&mut []));
        if n < size as usize {
            return Err(Exception::Access {
                addr: addr.wrapping_add(n as u32),
                write: false,
            });
        }
        Ok(u32::from_le_bytes(b))
    }

    /// Writes the low `size` (1, 2 or 4) bytes of `v`, little-endian. A
    /// write that crosses into an unmapped page changes nothing.
    pub(crate) fn write(&mut self, addr: u32, size: u32, v: u32) -> Run<()> {
        for i in 0..size.min(4) {
            let a = addr.wrapping_add(i);
            if !self.is_mapped(a) {
                return Err(Exception::Access {
                    addr: a,
                    write: true,
                });
            }
        }
        for i in 0..size.min(4) {
            self.write8(addr.wrapping_add(i), (v >> (8 * i)) as u8)?;
        }
        Ok(())
    }

    pub(crate) fn read32(&self, addr: u32) -> Run<u32> {
        self.read(addr, 4)
    }

    pub(crate) fn write32(&mut self, addr: u32, v: u32) -> Run<()> {
        self.write(addr, 4, v)
    }

    /// Copies `data` to `addr`, mapped or not (pages are mapped as needed,
    /// within the cap). False if the cap was reached.
    pub(crate) fn load(&mut self, addr: u32, data: &[u8]) -> bool {
        let Ok(len) = u32::try_from(data.len()) else {
            return false;
        };
        if !self.map(addr, len) {
            return false;
        }
        for (i, b) in data.iter().enumerate() {
            if self.write8(addr.wrapping_add(i as u32), *b).is_err() {
                return false;
            }
        }
        true
    }

    /// Reads `len` bytes from `addr`, unmapped bytes read as zero.
    pub(crate) fn dump(&self, addr: u32, len: u32) -> Vec<u8> {
        (0..len)
            .map(|i| self.read8(addr.wrapping_add(i)).unwrap_or(0))
            .collect()
    }

    /// A NUL-terminated string at `addr`, at most `max` bytes.
    pub(crate) fn cstr(&self, addr: u32, max: u32) -> Option<Vec<u8>> {
        let mut s = Vec::new();
        for i in 0..max {
            match self.read8(addr.wrapping_add(i)).ok()? {
                0 => return Some(s),
                b => s.push(b),
            }
        }
        None
    }
}

/// The registers, in the encoding's order.
pub(crate) const EAX: usize = 0;
pub(crate) const ECX: usize = 1;
pub(crate) const EDX: usize = 2;
pub(crate) const EBX: usize = 3;
pub(crate) const ESP: usize = 4;
pub(crate) const EBP: usize = 5;
pub(crate) const ESI: usize = 6;
pub(crate) const EDI: usize = 7;

/// The CPU state and its memory.
pub(crate) struct Cpu {
    /// General registers, indexed by [`EAX`]...[`EDI`].
    pub regs: [u32; 8],
    pub eip: u32,
    pub eflags: u32,
    /// Base of the `fs` segment (the thread block).
    pub fs_base: u32,
    /// Debug registers 0-7 as exception handlers set them through the
    /// context (kept, never acted on).
    pub dr: [u32; 8],
    pub mem: Memory,
    /// Instructions completed.
    pub executed: u64,
}

fn mask(size: u32) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => 0xFFFF_FFFF,
    }
}

fn sign(size: u32) -> u32 {
    match size {
        1 => 0x80,
        2 => 0x8000,
        _ => 0x8000_0000,
    }
}

fn sext(v: u32, size: u32) -> u32 {
    match size {
        1 => v as u8 as i8 as i32 as u32,
        2 => v as u16 as i16 as i32 as u32,
        _ => v,
    }
}

fn parity(v: u32) -> bool {
    (v as u8).count_ones().is_multiple_of(2)
}

/// Where an operand lives, resolved once per instruction.
#[derive(Clone, Copy)]
enum Loc {
    Reg(Register),
    Mem(u32),
    Imm(u32),
}

impl Cpu {
    /// A CPU with all registers zero over `mem`.
    pub(crate) fn new(mem: Memory) -> Cpu {
        Cpu {
            regs: [0; 8],
            eip: 0,
            eflags: FIXED_FLAGS,
            fs_base: 0,
            dr: [0; 8],
            mem,
            executed: 0,
        }
    }

    fn flag(&self, f: u32) -> bool {
        self.eflags & f != 0
    }

    fn set_flag(&mut self, f: u32, on: bool) {
        if on {
            self.eflags |= f;
        } else {
            self.eflags &= !f;
        }
    }

    pub(crate) fn push(&mut self, v: u32) -> Run<()> {
        let sp = self.regs[ESP].wrapping_sub(4);
        self.mem.write32(sp, v)?;
        self.regs[ESP] = sp;
        Ok(())
    }

    pub(crate) fn pop(&mut self) -> Run<u32> {
        let v = self.mem.read32(self.regs[ESP])?;
        self.regs[ESP] = self.regs[ESP].wrapping_add(4);
        Ok(v)
    }

    /// The value of a register of any size (segment registers read as the
    /// selectors Windows uses).
    fn reg(&self, r: Register) -> Run<u32> {
        let full = |i: usize| self.regs.get(i).copied().unwrap_or(0);
        Ok(match r {
            Register::AL | Register::CL | Register::DL | Register::BL => {
                full(r as usize - Register::AL as usize) & 0xFF
            }
            Register::AH | Register::CH | Register::DH | Register::BH => {
                (full(r as usize - Register::AH as usize) >> 8) & 0xFF
            }
            Register::AX
            | Register::CX
            | Register::DX
            | Register::BX
            | Register::SP
            | Register::BP
            | Register::SI
            | Register::DI => full(r as usize - Register::AX as usize) & 0xFFFF,
            Register::EAX
            | Register::ECX
            | Register::EDX
            | Register::EBX
            | Register::ESP
            | Register::EBP
            | Register::ESI
            | Register::EDI => full(r as usize - Register::EAX as usize),
            Register::CS => 0x1B,
            Register::DS | Register::ES | Register::SS => 0x23,
            Register::FS => 0x3B,
            Register::GS => 0,
            other => return Err(Exception::Unsupported(format!("register {other:?}"))),
        })
    }

    fn set_reg(&mut self, r: Register, v: u32) -> Run<()> {
        let (i, keep, shift) = match r {
            Register::AL | Register::CL | Register::DL | Register::BL => {
                (r as usize - Register::AL as usize, !0xFFu32, 0)
            }
            Register::AH | Register::CH | Register::DH | Register::BH => {
                (r as usize - Register::AH as usize, !0xFF00u32, 8)
            }
            Register::AX
            | Register::CX
            | Register::DX
            | Register::BX
            | Register::SP
            | Register::BP
            | Register::SI
            | Register::DI => (r as usize - Register::AX as usize, !0xFFFFu32, 0),
            Register::EAX
            | Register::ECX
            | Register::EDX
            | Register::EBX
            | Register::ESP
            | Register::EBP
            | Register::ESI
            | Register::EDI => (r as usize - Register::EAX as usize, 0, 0),
            // Loading a segment register with a flat selector changes
            // nothing here.
            Register::DS | Register::ES | Register::SS | Register::FS | Register::GS => {
                return Ok(());
            }
            other => return Err(Exception::Unsupported(format!("register {other:?}"))),
        };
        let size = if keep == 0 {
            4
        } else if keep == !0xFFFFu32 {
            2
        } else {
            1
        };
        if let Some(slot) = self.regs.get_mut(i) {
            *slot = (*slot & keep) | ((v & mask(size)) << shift);
        }
        Ok(())
    }

    /// The effective address of the memory operand.
    fn address(&self, ins: &Instruction) -> Run<u32> {
        let mut a = ins.memory_displacement32();
        if ins.memory_base() != Register::None {
            a = a.wrapping_add(self.reg(ins.memory_base())?);
        }
        if ins.memory_index() != Register::None {
            a = a.wrapping_add(
                self.reg(ins.memory_index())?
                    .wrapping_mul(ins.memory_index_scale()),
            );
        }
        if ins.memory_segment() == Register::FS {
            a = a.wrapping_add(self.fs_base);
        }
        Ok(a)
    }

    fn loc(&self, ins: &Instruction, op: u32) -> Run<Loc> {
        Ok(match ins.op_kind(op) {
            OpKind::Register => Loc::Reg(ins.op_register(op)),
            OpKind::Memory => Loc::Mem(self.address(ins)?),
            OpKind::Immediate8 | OpKind::Immediate8_2nd => Loc::Imm(ins.immediate(op) as u32),
            OpKind::Immediate16 => Loc::Imm(u32::from(ins.immediate16())),
            OpKind::Immediate32 => Loc::Imm(ins.immediate32()),
            OpKind::Immediate8to16 => Loc::Imm(ins.immediate8to16() as u16 as u32),
            OpKind::Immediate8to32 => Loc::Imm(ins.immediate8to32() as u32),
            OpKind::NearBranch32 => Loc::Imm(ins.near_branch32()),
            OpKind::NearBranch16 => Loc::Imm(u32::from(ins.near_branch16())),
            other => {
                return Err(Exception::Unsupported(format!(
                    "{:?} with an operand of kind {other:?}",
                    ins.mnemonic()
                )));
            }
        })
    }

    /// Size in bytes of operand `op`.
    fn size(ins: &Instruction, op: u32) -> u32 {
        match ins.op_kind(op) {
            OpKind::Register => ins.op_register(op).size() as u32,
            OpKind::Memory => ins.memory_size().size() as u32,
            OpKind::Immediate8 | OpKind::Immediate8_2nd => 1,
            OpKind::Immediate16 | OpKind::Immediate8to16 => 2,
            _ => 4,
        }
    }

    fn get(&self, l: Loc, size: u32) -> Run<u32> {
        match l {
            Loc::Reg(r) => self.reg(r),
            Loc::Mem(a) => self.mem.read(a, size),
            Loc::Imm(v) => Ok(v & mask(size)),
        }
    }

    fn put(&mut self, l: Loc, size: u32, v: u32) -> Run<()> {
        match l {
            Loc::Reg(r) => self.set_reg(r, v),
            Loc::Mem(a) => self.mem.write(a, size, v),
            Loc::Imm(_) => Err(Exception::Invalid),
        }
    }

    fn szp(&mut self, r: u32, size: u32) {
        let r = r & mask(size);
        self.set_flag(ZF, r == 0);
        self.set_flag(SF, r & sign(size) != 0);
        self.set_flag(PF, parity(r));
    }

    /// `a + b + carry`, setting every arithmetic flag.
    pub(crate) fn add(&mut self, a: u32, b: u32, carry: bool, size: u32) -> u32 {
        let m = mask(size);
        let (a, b) = (a & m, b & m);
        let wide = u64::from(a) + u64::from(b) + u64::from(carry);
        let r = (wide as u32) & m;
        self.set_flag(CF, wide > u64::from(m));
        self.set_flag(OF, (a ^ r) & (b ^ r) & sign(size) != 0);
        self.set_flag(AF, (a ^ b ^ r) & 0x10 != 0);
        self.szp(r, size);
        r
    }

    /// `a - b - borrow`, setting every arithmetic flag.
    pub(crate) fn sub(&mut self, a: u32, b: u32, borrow: bool, size: u32) -> u32 {
        let m = mask(size);
        let (a, b) = (a & m, b & m);
        let r = a.wrapping_sub(b).wrapping_sub(u32::from(borrow)) & m;
        self.set_flag(CF, u64::from(b) + u64::from(borrow) > u64::from(a));
        self.set_flag(OF, (a ^ b) & (a ^ r) & sign(size) != 0);
        self.set_flag(AF, (a ^ b ^ r) & 0x10 != 0);
        self.szp(r, size);
        r
    }

    fn logic(&mut self, r: u32, size: u32) -> u32 {
        let r = r & mask(size);
        self.set_flag(CF, false);
        self.set_flag(OF, false);
        self.set_flag(AF, false);
        self.szp(r, size);
        r
    }

    /// Shifts and rotates; `count` already masked to 5 bits. A zero count
    /// changes no flag.
    pub(crate) fn shift(&mut self, m: Mnemonic, a: u32, count: u32, size: u32) -> u32 {
        let bits = size * 8;
        let msk = mask(size);
        let a = a & msk;
        if count == 0 {
            return a;
        }
        let msb = |v: u32| v & sign(size) != 0;
        match m {
            Mnemonic::Shl | Mnemonic::Sal => {
                let r = if count >= 32 { 0 } else { (a << count) & msk };
                let cf = count <= bits && (u64::from(a) >> (bits - count)) & 1 != 0;
                self.set_flag(CF, cf);
                self.set_flag(OF, msb(r) != cf);
                self.szp(r, size);
                r
            }
            Mnemonic::Shr => {
                let r = if count >= 32 { 0 } else { a >> count };
                let cf = (u64::from(a) >> (count - 1)) & 1 != 0;
                self.set_flag(CF, cf);
                self.set_flag(OF, msb(a));
                self.szp(r, size);
                r
            }
            Mnemonic::Sar => {
                let s = sext(a, size) as i32;
                let r = (s >> count.min(31)) as u32 & msk;
                let cf = (s >> (count - 1).min(31)) & 1 != 0;
                self.set_flag(CF, cf);
                self.set_flag(OF, false);
                self.szp(r, size);
                r
            }
            Mnemonic::Rol => {
                let c = count % bits;
                let r = if c == 0 {
                    a
                } else {
                    ((a << c) | (a >> (bits - c))) & msk
                };
                let cf = r & 1 != 0;
                self.set_flag(CF, cf);
                self.set_flag(OF, msb(r) != cf);
                r
            }
            Mnemonic::Ror => {
                let c = count % bits;
                let r = if c == 0 {
                    a
                } else {
                    ((a >> c) | (a << (bits - c))) & msk
                };
                self.set_flag(CF, msb(r));
                self.set_flag(OF, msb(r) != (r & (sign(size) >> 1) != 0));
                r
            }
            Mnemonic::Rcl => {
                let c = count % (bits + 1);
                let mut r = u64::from(a);
                let mut cf = self.flag(CF);
                for _ in 0..c {
                    let out = r & u64::from(sign(size)) != 0;
                    r = ((r << 1) | u64::from(cf)) & u64::from(msk);
                    cf = out;
                }
                let r = r as u32;
                self.set_flag(CF, cf);
                self.set_flag(OF, msb(r) != cf);
                r
            }
            Mnemonic::Rcr => {
                let c = count % (bits + 1);
                let mut r = a;
                let mut cf = self.flag(CF);
                self.set_flag(OF, msb(a) != cf);
                for _ in 0..c {
                    let out = r & 1 != 0;
                    r = (r >> 1) | if cf { sign(size) } else { 0 };
                    cf = out;
                }
                self.set_flag(CF, cf);
                r
            }
            _ => a,
        }
    }

    fn cond(&self, c: ConditionCode) -> bool {
        let (cf, zf, sf, of, pf) = (
            self.flag(CF),
            self.flag(ZF),
            self.flag(SF),
            self.flag(OF),
            self.flag(PF),
        );
        match c {
            ConditionCode::o => of,
            ConditionCode::no => !of,
            ConditionCode::b => cf,
            ConditionCode::ae => !cf,
            ConditionCode::e => zf,
            ConditionCode::ne => !zf,
            ConditionCode::be => cf || zf,
            ConditionCode::a => !cf && !zf,
            ConditionCode::s => sf,
            ConditionCode::ns => !sf,
            ConditionCode::p => pf,
            ConditionCode::np => !pf,
            ConditionCode::l => sf != of,
            ConditionCode::ge => sf == of,
            ConditionCode::le => zf || sf != of,
            ConditionCode::g => !zf && sf == of,
            _ => true,
        }
    }

    /// Decodes the instruction at `eip`.
    pub(crate) fn decode(&self) -> Run<Instruction> {
        let mut bytes = [0u8; 15];
        let n = self.mem.fetch(self.eip, &mut bytes);
        if n == 0 {
            return Err(Exception::Access {
                addr: self.eip,
                write: false,
            });
        }
        let mut d = Decoder::with_ip(
            32,
            bytes.get(..n).unwrap_or(&[]),
            u64::from(self.eip),
            DecoderOptions::NONE,
        );
        let ins = d.decode();
        if ins.is_invalid() {
            // Cut short by an unmapped page: the fetch faults there.
            if n < 15 {
                return Err(Exception::Access {
                    addr: self.eip.wrapping_add(n as u32),
                    write: false,
                });
            }
            return Err(Exception::Invalid);
        }
        Ok(ins)
    }

    /// Runs one instruction. On an exception, registers and `eip` are as
    /// they were before it (but for a string instruction's completed
    /// iterations), as the processor leaves them for a fault; a single
    /// step is reported after the instruction.
    pub(crate) fn step(&mut self) -> Run<()> {
        let ins = self.decode()?;
        let trap = self.flag(TF);
        let saved = (self.regs, self.eflags);
        match self.exec(&ins) {
            Ok(next) => {
                self.eip = next;
                self.executed += 1;
                if trap {
                    self.set_flag(TF, false);
                    return Err(Exception::SingleStep);
                }
                Ok(())
            }
            Err(e) => {
                if !ins.has_rep_prefix() && !ins.has_repne_prefix() {
                    (self.regs, self.eflags) = saved;
                }
                Err(e)
            }
        }
    }

    /// Carries out `ins`; returns the next `eip`.
    fn exec(&mut self, ins: &Instruction) -> Run<u32> {
        let next = ins.next_ip32();
        let m = ins.mnemonic();
        match m {
            Mnemonic::Nop | Mnemonic::Pause | Mnemonic::Fnop | Mnemonic::Wait => {}
            Mnemonic::Mov => {
                let s = Self::size(ins, 0);
                let v = self.get(self.loc(ins, 1)?, Self::size(ins, 1))?;
                self.put(self.loc(ins, 0)?, s, v)?;
            }
            Mnemonic::Movzx | Mnemonic::Movsx => {
                let s = Self::size(ins, 1);
                let v = self.get(self.loc(ins, 1)?, s)?;
                let v = if m == Mnemonic::Movsx { sext(v, s) } else { v };
                self.put(self.loc(ins, 0)?, Self::size(ins, 0), v)?;
            }
            Mnemonic::Lea => {
                let a = self.address(ins)?;
                self.put(self.loc(ins, 0)?, Self::size(ins, 0), a)?;
            }
            Mnemonic::Xchg => {
                let s = Self::size(ins, 0);
                let (l0, l1) = (self.loc(ins, 0)?, self.loc(ins, 1)?);
                let (a, b) = (self.get(l0, s)?, self.get(l1, s)?);
                self.put(l0, s, b)?;
                self.put(l1, s, a)?;
            }
            Mnemonic::Push => {
                let s = Self::size(ins, 0);
                let v = self.get(self.loc(ins, 0)?, s)?;
                let v = if ins.op_kind(0) == OpKind::Register {
                    v
                } else {
                    sext(v, s)
                };
                if s == 2 && ins.op_kind(0) != OpKind::Immediate8to16 {
                    let sp = self.regs[ESP].wrapping_sub(2);
                    self.mem.write(sp, 2, v)?;
                    self.regs[ESP] = sp;
                } else {
                    self.push(v)?;
                }
            }
            Mnemonic::Pop => {
                let s = Self::size(ins, 0);
                let v = self.mem.read(self.regs[ESP], s)?;
                self.regs[ESP] = self.regs[ESP].wrapping_add(s);
                // `pop [esp+x]` addresses with the incremented esp.
                let l = self.loc(ins, 0)?;
                self.put(l, s, v)?;
            }
            Mnemonic::Pushad => {
                let sp = self.regs[ESP];
                for (i, r) in self.regs.clone().iter().enumerate() {
                    self.push(if i == ESP { sp } else { *r })?;
                }
            }
            Mnemonic::Popad => {
                let mut vals = [0u32; 8];
                for (i, slot) in vals.iter_mut().enumerate() {
                    *slot = self
                        .mem
                        .read32(self.regs[ESP].wrapping_add(4 * (7 - i as u32)))?;
                }
                let sp = self.regs[ESP].wrapping_add(32);
                self.regs = vals;
                self.regs[ESP] = sp;
            }
            Mnemonic::Pushfd | Mnemonic::Pushf => {
                let v = self.eflags & !TF;
                if m == Mnemonic::Pushf {
                    let sp = self.regs[ESP].wrapping_sub(2);
                    self.mem.write(sp, 2, v)?;
                    self.regs[ESP] = sp;
                } else {
                    self.push(v)?;
                }
            }
            Mnemonic::Popfd | Mnemonic::Popf => {
                let v = if m == Mnemonic::Popf {
                    let v = self.mem.read(self.regs[ESP], 2)?;
                    self.regs[ESP] = self.regs[ESP].wrapping_add(2);
                    v | (self.eflags & 0xFFFF_0000)
                } else {
                    self.pop()?
                };
                self.eflags = (self.eflags & !USER_FLAGS) | (v & USER_FLAGS) | FIXED_FLAGS;
            }
            // al = [ebx + al], as a table lookup.
            Mnemonic::Xlatb => {
                let v = self.mem.read(self.address(ins)?, 1)?;
                self.set_reg(Register::AL, v)?;
            }
            Mnemonic::Lahf => {
                let v = (self.eflags & 0xFF) as u8;
                self.set_reg(Register::AH, u32::from(v))?;
            }
            Mnemonic::Sahf => {
                let ah = self.reg(Register::AH)?;
                let f = CF | PF | AF | ZF | SF;
                self.eflags = (self.eflags & !f) | (ah & f) | FIXED_FLAGS;
            }
            Mnemonic::Add | Mnemonic::Adc | Mnemonic::Sub | Mnemonic::Sbb | Mnemonic::Cmp => {
                let s = Self::size(ins, 0);
                let l0 = self.loc(ins, 0)?;
                let a = self.get(l0, s)?;
                let b = sext(
                    self.get(self.loc(ins, 1)?, Self::size(ins, 1))?,
                    Self::size(ins, 1),
                );
                let c = self.flag(CF);
                let r = match m {
                    Mnemonic::Add => self.add(a, b, false, s),
                    Mnemonic::Adc => self.add(a, b, c, s),
                    Mnemonic::Sbb => self.sub(a, b, c, s),
                    _ => self.sub(a, b, false, s),
                };
                if m != Mnemonic::Cmp {
                    self.put(l0, s, r)?;
                }
            }
            Mnemonic::And | Mnemonic::Or | Mnemonic::Xor | Mnemonic::Test => {
                let s = Self::size(ins, 0);
                let l0 = self.loc(ins, 0)?;
                let a = self.get(l0, s)?;
                let b = sext(
                    self.get(self.loc(ins, 1)?, Self::size(ins, 1))?,
                    Self::size(ins, 1),
                );
                let r = match m {
                    Mnemonic::Or => a | b,
                    Mnemonic::Xor => a ^ b,
                    _ => a & b,
                };
                let r = self.logic(r, s);
                if m != Mnemonic::Test {
                    self.put(l0, s, r)?;
                }
            }
            Mnemonic::Inc | Mnemonic::Dec => {
                let s = Self::size(ins, 0);
                let l0 = self.loc(ins, 0)?;
                let a = self.get(l0, s)?;
                let cf = self.flag(CF);
                let r = if m == Mnemonic::Inc {
                    self.add(a, 1, false, s)
                } else {
                    self.sub(a, 1, false, s)
                };
                self.set_flag(CF, cf);
                self.put(l0, s, r)?;
            }
            Mnemonic::Neg => {
                let s = Self::size(ins, 0);
                let l0 = self.loc(ins, 0)?;
                let a = self.get(l0, s)?;
                let r = self.sub(0, a, false, s);
                self.set_flag(CF, a & mask(s) != 0);
                self.put(l0, s, r)?;
            }
            Mnemonic::Not => {
                let s = Self::size(ins, 0);
                let l0 = self.loc(ins, 0)?;
                let a = self.get(l0, s)?;
                self.put(l0, s, !a)?;
            }
            Mnemonic::Shl
            | Mnemonic::Sal
            | Mnemonic::Shr
            | Mnemonic::Sar
            | Mnemonic::Rol
            | Mnemonic::Ror
            | Mnemonic::Rcl
            | Mnemonic::Rcr => {
                let s = Self::size(ins, 0);
                let l0 = self.loc(ins, 0)?;
                let a = self.get(l0, s)?;
                let count = if ins.op_count() > 1 {
                    self.get(self.loc(ins, 1)?, 1)? & 0x1F
                } else {
                    1
                };
                let r = self.shift(m, a, count, s);
                self.put(l0, s, r)?;
            }
            Mnemonic::Shld | Mnemonic::Shrd => {
                let s = Self::size(ins, 0);
                let l0 = self.loc(ins, 0)?;
                let a = self.get(l0, s)?;
                let b = self.get(self.loc(ins, 1)?, s)?;
                let count = self.get(self.loc(ins, 2)?, 1)? & 0x1F;
                if count != 0 && s == 4 {
                    let (r, cf) = if m == Mnemonic::Shld {
                        let wide = (u64::from(a) << 32) | u64::from(b);
                        ((wide << count >> 32) as u32, (a >> (32 - count)) & 1 != 0)
                    } else {
                        let wide = (u64::from(b) << 32) | u64::from(a);
                        ((wide >> count) as u32, (a >> (count - 1)) & 1 != 0)
                    };
                    self.set_flag(CF, cf);
                    self.set_flag(OF, (r ^ a) & sign(s) != 0);
                    self.szp(r, s);
                    self.put(l0, s, r)?;
                } else if count != 0 {
                    return Err(Exception::Unsupported(format!("16-bit {m:?}")));
                }
            }
            Mnemonic::Mul | Mnemonic::Imul if ins.op_count() == 1 => {
                let s = Self::size(ins, 0);
                let b = self.get(self.loc(ins, 0)?, s)?;
                let a = self.regs[EAX] & mask(s);
                let (lo, hi, over) = if m == Mnemonic::Mul {
                    let p = u64::from(a) * u64::from(b);
                    let lo = (p as u32) & mask(s);
                    let hi = ((p >> (s * 8)) as u32) & mask(s);
                    (lo, hi, hi != 0)
                } else {
                    let p = i64::from(sext(a, s) as i32) * i64::from(sext(b, s) as i32);
                    let lo = (p as u32) & mask(s);
                    let hi = ((p >> (s * 8)) as u32) & mask(s);
                    (lo, hi, i64::from(sext(lo, s) as i32) != p)
                };
                match s {
                    1 => self.set_reg(Register::AX, (hi << 8) | lo)?,
                    2 => {
                        self.set_reg(Register::AX, lo)?;
                        self.set_reg(Register::DX, hi)?;
                    }
                    _ => {
                        self.regs[EAX] = lo;
                        self.regs[EDX] = hi;
                    }
                }
                self.set_flag(CF, over);
                self.set_flag(OF, over);
                self.szp(lo, s);
            }
            Mnemonic::Imul => {
                let s = Self::size(ins, 0);
                let (a, b) = if ins.op_count() == 3 {
                    (
                        self.get(self.loc(ins, 1)?, s)?,
                        sext(
                            self.get(self.loc(ins, 2)?, Self::size(ins, 2))?,
                            Self::size(ins, 2),
                        ),
                    )
                } else {
                    (
                        self.get(self.loc(ins, 0)?, s)?,
                        self.get(self.loc(ins, 1)?, s)?,
                    )
                };
                let p = i64::from(sext(a, s) as i32) * i64::from(sext(b, s) as i32);
                let r = (p as u32) & mask(s);
                let over = i64::from(sext(r, s) as i32) != p;
                self.set_flag(CF, over);
                self.set_flag(OF, over);
                self.szp(r, s);
                self.put(self.loc(ins, 0)?, s, r)?;
            }
            Mnemonic::Div | Mnemonic::Idiv => {
                let s = Self::size(ins, 0);
                let d = self.get(self.loc(ins, 0)?, s)?;
                if d == 0 {
                    return Err(Exception::Divide);
                }
                let n: u64 = match s {
                    1 => u64::from(self.regs[EAX] & 0xFFFF),
                    2 => {
                        (u64::from(self.regs[EDX] & 0xFFFF) << 16)
                            | u64::from(self.regs[EAX] & 0xFFFF)
                    }
                    _ => (u64::from(self.regs[EDX]) << 32) | u64::from(self.regs[EAX]),
                };
                let (q, r) = if m == Mnemonic::Div {
                    let q = n / u64::from(d);
                    if q > u64::from(mask(s)) {
                        return Err(Exception::Divide);
                    }
                    (q as u32, (n % u64::from(d)) as u32)
                } else {
                    let n = match s {
                        1 => i64::from(n as u16 as i16),
                        2 => i64::from(n as u32 as i32),
                        _ => n as i64,
                    };
                    let d = i64::from(sext(d, s) as i32);
                    let (Some(q), Some(r)) = (n.checked_div(d), n.checked_rem(d)) else {
                        return Err(Exception::Divide);
                    };
                    let half = i64::from(sign(s));
                    if q >= half || q < -half {
                        return Err(Exception::Divide);
                    }
                    (q as u32, r as u32)
                };
                match s {
                    1 => self.set_reg(Register::AX, ((r & 0xFF) << 8) | (q & 0xFF))?,
                    2 => {
                        self.set_reg(Register::AX, q)?;
                        self.set_reg(Register::DX, r)?;
                    }
                    _ => {
                        self.regs[EAX] = q;
                        self.regs[EDX] = r;
                    }
                }
            }
            Mnemonic::Cdq => {
                self.regs[EDX] = if self.regs[EAX] & 0x8000_0000 != 0 {
                    u32::MAX
                } else {
                    0
                };
            }
            Mnemonic::Cwde => self.regs[EAX] = sext(self.regs[EAX], 2),
            Mnemonic::Cbw => {
                let v = sext(self.regs[EAX], 1);
                self.set_reg(Register::AX, v)?;
            }
            Mnemonic::Cwd => {
                let v = if self.regs[EAX] & 0x8000 != 0 {
                    0xFFFF
                } else {
                    0
                };
                self.set_reg(Register::DX, v)?;
            }
            Mnemonic::Bswap => {
                let l0 = self.loc(ins, 0)?;
                let v = self.get(l0, 4)?;
                self.put(l0, 4, v.swap_bytes())?;
            }
            Mnemonic::Xadd => {
                let s = Self::size(ins, 0);
                let (l0, l1) = (self.loc(ins, 0)?, self.loc(ins, 1)?);
                let (a, b) = (self.get(l0, s)?, self.get(l1, s)?);
                let r = self.add(a, b, false, s);
                self.put(l1, s, a)?;
                self.put(l0, s, r)?;
            }
            Mnemonic::Cmpxchg => {
                let s = Self::size(ins, 0);
                let (l0, l1) = (self.loc(ins, 0)?, self.loc(ins, 1)?);
                let d = self.get(l0, s)?;
                let acc = self.regs[EAX] & mask(s);
                self.sub(acc, d, false, s);
                if acc == d {
                    let v = self.get(l1, s)?;
                    self.put(l0, s, v)?;
                } else {
                    let acc_reg = match s {
                        1 => Register::AL,
                        2 => Register::AX,
                        _ => Register::EAX,
                    };
                    self.set_reg(acc_reg, d)?;
                }
            }
            Mnemonic::Bt | Mnemonic::Bts | Mnemonic::Btr | Mnemonic::Btc => {
                let s = Self::size(ins, 0);
                let bits = s * 8;
                let off = self.get(self.loc(ins, 1)?, Self::size(ins, 1))?;
                let (l0, bit) = match (self.loc(ins, 0)?, ins.op_kind(1)) {
                    // A register bit offset reaches past the operand in memory.
                    (Loc::Mem(a), OpKind::Register) => {
                        let signed = sext(off, s) as i32;
                        let step = signed.div_euclid(bits as i32);
                        let a = a.wrapping_add((step * s as i32) as u32);
                        (Loc::Mem(a), signed.rem_euclid(bits as i32) as u32)
                    }
                    (l, _) => (l, off % bits),
                };
                let v = self.get(l0, s)?;
                self.set_flag(CF, (v >> bit) & 1 != 0);
                let r = match m {
                    Mnemonic::Bts => v | (1 << bit),
                    Mnemonic::Btr => v & !(1 << bit),
                    Mnemonic::Btc => v ^ (1 << bit),
                    _ => v,
                };
                if m != Mnemonic::Bt {
                    self.put(l0, s, r)?;
                }
            }
            Mnemonic::Bsf | Mnemonic::Bsr => {
                let s = Self::size(ins, 0);
                let v = self.get(self.loc(ins, 1)?, s)? & mask(s);
                self.set_flag(ZF, v == 0);
                if v != 0 {
                    let r = if m == Mnemonic::Bsf {
                        v.trailing_zeros()
                    } else {
                        31 - v.leading_zeros()
                    };
                    self.put(self.loc(ins, 0)?, s, r)?;
                }
            }
            Mnemonic::Setne
            | Mnemonic::Sete
            | Mnemonic::Seta
            | Mnemonic::Setae
            | Mnemonic::Setb
            | Mnemonic::Setbe
            | Mnemonic::Setg
            | Mnemonic::Setge
            | Mnemonic::Setl
            | Mnemonic::Setle
            | Mnemonic::Sets
            | Mnemonic::Setns
            | Mnemonic::Seto
            | Mnemonic::Setno
            | Mnemonic::Setp
            | Mnemonic::Setnp => {
                let v = u32::from(self.cond(ins.condition_code()));
                self.put(self.loc(ins, 0)?, 1, v)?;
            }
            Mnemonic::Cmove
            | Mnemonic::Cmovne
            | Mnemonic::Cmova
            | Mnemonic::Cmovae
            | Mnemonic::Cmovb
            | Mnemonic::Cmovbe
            | Mnemonic::Cmovg
            | Mnemonic::Cmovge
            | Mnemonic::Cmovl
            | Mnemonic::Cmovle
            | Mnemonic::Cmovs
            | Mnemonic::Cmovns
            | Mnemonic::Cmovo
            | Mnemonic::Cmovno
            | Mnemonic::Cmovp
            | Mnemonic::Cmovnp => {
                let s = Self::size(ins, 0);
                let v = self.get(self.loc(ins, 1)?, s)?;
                if self.cond(ins.condition_code()) {
                    self.put(self.loc(ins, 0)?, s, v)?;
                }
            }
            Mnemonic::Clc => self.set_flag(CF, false),
            Mnemonic::Stc => self.set_flag(CF, true),
            Mnemonic::Cmc => {
                let c = self.flag(CF);
                self.set_flag(CF, !c);
            }
            Mnemonic::Cld => self.set_flag(DF, false),
            Mnemonic::Std => self.set_flag(DF, true),
            Mnemonic::Jmp => {
                return match ins.op_kind(0) {
                    OpKind::NearBranch32 | OpKind::NearBranch16 => self.get(self.loc(ins, 0)?, 4),
                    OpKind::Register | OpKind::Memory => self.get(self.loc(ins, 0)?, 4),
                    k => Err(Exception::Unsupported(format!(
                        "jmp to an operand of kind {k:?}"
                    ))),
                };
            }
            Mnemonic::Call => {
                let target = match ins.op_kind(0) {
                    OpKind::NearBranch32
                    | OpKind::NearBranch16
                    | OpKind::Register
                    | OpKind::Memory => self.get(self.loc(ins, 0)?, 4)?,
                    k => {
                        return Err(Exception::Unsupported(format!(
                            "call to an operand of kind {k:?}"
                        )));
                    }
                };
                self.push(next)?;
                return Ok(target);
            }
            Mnemonic::Ret => {
                let to = self.pop()?;
                if ins.op_count() == 1 {
                    self.regs[ESP] = self.regs[ESP].wrapping_add(u32::from(ins.immediate16()));
                }
                return Ok(to);
            }
            Mnemonic::Leave => {
                self.regs[ESP] = self.regs[EBP];
                self.regs[EBP] = self.pop()?;
            }
            Mnemonic::Enter => {
                let size = u32::from(ins.immediate16());
                if ins.immediate8_2nd() != 0 {
                    return Err(Exception::Unsupported("enter with a nesting level".into()));
                }
                self.push(self.regs[EBP])?;
                self.regs[EBP] = self.regs[ESP];
                self.regs[ESP] = self.regs[ESP].wrapping_sub(size);
            }
            Mnemonic::Loop | Mnemonic::Loope | Mnemonic::Loopne | Mnemonic::Jecxz => {
                let target = ins.near_branch32();
                if m == Mnemonic::Jecxz {
                    return Ok(if self.regs[ECX] == 0 { target } else { next });
                }
                self.regs[ECX] = self.regs[ECX].wrapping_sub(1);
                let go = self.regs[ECX] != 0
                    && match m {
                        Mnemonic::Loope => self.flag(ZF),
                        Mnemonic::Loopne => !self.flag(ZF),
                        _ => true,
                    };
                return Ok(if go { target } else { next });
            }
            Mnemonic::Jo
            | Mnemonic::Jno
            | Mnemonic::Jb
            | Mnemonic::Jae
            | Mnemonic::Je
            | Mnemonic::Jne
            | Mnemonic::Jbe
            | Mnemonic::Ja
            | Mnemonic::Js
            | Mnemonic::Jns
            | Mnemonic::Jp
            | Mnemonic::Jnp
            | Mnemonic::Jl
            | Mnemonic::Jge
            | Mnemonic::Jle
            | Mnemonic::Jg => {
                return Ok(if self.cond(ins.condition_code()) {
                    ins.near_branch32()
                } else {
                    next
                });
            }
            Mnemonic::Int3 => return Err(Exception::Breakpoint),
            Mnemonic::Int1 => return Err(Exception::SingleStep),
            Mnemonic::Ud2 | Mnemonic::Ud0 | Mnemonic::Ud1 => return Err(Exception::Invalid),
            Mnemonic::Hlt
            | Mnemonic::Cli
            | Mnemonic::Sti
            | Mnemonic::In
            | Mnemonic::Out
            | Mnemonic::Insb
            | Mnemonic::Insd
            | Mnemonic::Outsb
            | Mnemonic::Outsd
            | Mnemonic::Int
            | Mnemonic::Into
            | Mnemonic::Iretd => return Err(Exception::Privileged),
            Mnemonic::Rdtsc => {
                // A clock that moves with the instructions run: timing
                // checks see a fast, undebugged machine.
                let t = self.executed.wrapping_mul(3);
                self.regs[EAX] = t as u32;
                self.regs[EDX] = (t >> 32) as u32;
            }
            Mnemonic::Movsb
            | Mnemonic::Movsw
            | Mnemonic::Movsd
            | Mnemonic::Stosb
            | Mnemonic::Stosw
            | Mnemonic::Stosd
            | Mnemonic::Lodsb
            | Mnemonic::Lodsw
            | Mnemonic::Lodsd
            | Mnemonic::Scasb
            | Mnemonic::Scasw
            | Mnemonic::Scasd
            | Mnemonic::Cmpsb
            | Mnemonic::Cmpsw
            | Mnemonic::Cmpsd
                if ins.op_kinds().any(|k| {
                    matches!(
                        k,
                        OpKind::MemoryESEDI | OpKind::MemorySegESI | OpKind::MemorySegEDI
                    )
                }) =>
            {
                // A long `rep` run is cut into slices; the instruction is
                // resumed at the same `eip` (as after an interrupt) so the
                // caller's limits are checked in between.
                if !self.string(ins, m)? {
                    return Ok(self.eip);
                }
            }
            other => {
                return Err(Exception::Unsupported(format!(
                    "{other:?} at {:#x}",
                    self.eip
                )));
            }
        }
        Ok(next)
    }

    /// String instructions, with `rep`/`repe`/`repne`. The count and the
    /// pointers are updated per iteration, so a fault part way leaves them
    /// where the processor would. False when a `rep` run stopped after
    /// [`REP_SLICE`] iterations with more to do.
    fn string(&mut self, ins: &Instruction, m: Mnemonic) -> Run<bool> {
        let size = match m {
            Mnemonic::Movsb
            | Mnemonic::Stosb
            | Mnemonic::Lodsb
            | Mnemonic::Scasb
            | Mnemonic::Cmpsb => 1,
            Mnemonic::Movsw
            | Mnemonic::Stosw
            | Mnemonic::Lodsw
            | Mnemonic::Scasw
            | Mnemonic::Cmpsw => 2,
            _ => 4,
        };
        let step: u32 = if self.flag(DF) {
            0u32.wrapping_sub(size)
        } else {
            size
        };
        let rep = ins.has_rep_prefix() || ins.has_repne_prefix();
        let compares = matches!(
            m,
            Mnemonic::Scasb
                | Mnemonic::Scasw
                | Mnemonic::Scasd
                | Mnemonic::Cmpsb
                | Mnemonic::Cmpsw
                | Mnemonic::Cmpsd
        );
        let src_base = if ins.memory_segment() == Register::FS {
            self.fs_base
        } else {
            0
        };
        for _ in 0..REP_SLICE {
            if rep && self.regs[ECX] == 0 {
                return Ok(true);
            }
            let (si, di) = (self.regs[ESI], self.regs[EDI]);
            match m {
                Mnemonic::Movsb | Mnemonic::Movsw | Mnemonic::Movsd => {
                    let v = self.mem.read(si.wrapping_add(src_base), size)?;
                    self.mem.write(di, size, v)?;
                    self.regs[ESI] = si.wrapping_add(step);
                    self.regs[EDI] = di.wrapping_add(step);
                }
                Mnemonic::Stosb | Mnemonic::Stosw | Mnemonic::Stosd => {
                    self.mem.write(di, size, self.regs[EAX])?;
                    self.regs[EDI] = di.wrapping_add(step);
                }
                Mnemonic::Lodsb | Mnemonic::Lodsw | Mnemonic::Lodsd => {
                    let v = self.mem.read(si.wrapping_add(src_base), size)?;
                    let r = match size {
                        1 => Register::AL,
                        2 => Register::AX,
                        _ => Register::EAX,
                    };
                    self.set_reg(r, v)?;
                    self.regs[ESI] = si.wrapping_add(step);
                }
                Mnemonic::Scasb | Mnemonic::Scasw | Mnemonic::Scasd => {
                    let v = self.mem.read(di, size)?;
                    self.sub(self.regs[EAX], v, false, size);
                    self.regs[EDI] = di.wrapping_add(step);
                }
                _ => {
                    let a = self.mem.read(si.wrapping_add(src_base), size)?;
                    let b = self.mem.read(di, size)?;
                    self.sub(a, b, false, size);
                    self.regs[ESI] = si.wrapping_add(step);
                    self.regs[EDI] = di.wrapping_add(step);
                }
            }
            if !rep {
                return Ok(true);
            }
            self.regs[ECX] = self.regs[ECX].wrapping_sub(1);
            // Each iteration counts towards the caller's instruction limit.
            self.executed += 1;
            if compares {
                let zf = self.flag(ZF);
                if (ins.has_repe_prefix() && !zf) || (ins.has_repne_prefix() && zf) {
                    return Ok(true);
                }
            }
        }
        Ok(self.regs[ECX] == 0)
    }
}

/// Iterations of a `rep` string instruction run in one step.
const REP_SLICE: u32 = 0x1_0000;

#[cfg(test)]
mod tests {
    use super::*;

    /// A CPU with `code` at 0x1000 and a stack page at 0x8000.
    fn cpu(code: &[u8]) -> Cpu {
        let mut mem = Memory::new(16);
        assert!(mem.load(0x1000, code));
        assert!(mem.map(0x8000, PAGE));
        let mut c = Cpu::new(mem);
        c.eip = 0x1000;
        c.regs[ESP] = 0x8800;
        c
    }

    #[test]
    fn reads_and_fetches_cross_pages_and_stop_at_unmapped_ones() {
        let mut m = Memory::new(4);
        assert!(m.load(0x1FFE, &[1, 2, 3, 4]));
        assert_eq!(m.read(0x1FFE, 4), Ok(0x0403_0201));
        assert_eq!(m.read(0x1FFF, 2), Ok(0x0302));
        let mut buf = [0u8; 15];
        // 0x1000..0x3000 mapped: the fetch stops at 0x3000.
        assert_eq!(m.fetch(0x2FF8, &mut buf), 8);
        assert_eq!(m.fetch(0x3000, &mut buf), 0);
        assert_eq!(m.fetch(0x1FFE, &mut buf), 15);
        assert_eq!(buf[..4], [1, 2, 3, 4]);
        assert_eq!(
            m.read(0x2FFE, 4),
            Err(Exception::Access {
                addr: 0x3000,
                write: false
            })
        );
        // An instruction cut by an unmapped page faults where it is cut.
        assert!(m.load(0x2FFF, &[0xB8]));
        let mut c = Cpu::new(m);
        c.eip = 0x2FFF;
        assert_eq!(
            c.step(),
            Err(Exception::Access {
                addr: 0x3000,
                write: false
            })
        );
    }

    #[test]
    fn xlatb_reads_the_table_at_ebx_indexed_by_al() {
        // xlatb; xlatb
        let mut c = cpu(&[0xD7, 0xD7]);
        assert!(c.mem.load(0x8100, &[0x10, 0x20, 0x30, 0x02]));
        c.regs[EBX] = 0x8100;
        c.regs[EAX] = 0xAABB_CC03;
        c.step().unwrap();
        assert_eq!(c.regs[EAX], 0xAABB_CC02);
        c.step().unwrap();
        assert_eq!(c.regs[EAX], 0xAABB_CC30);
        assert_eq!(c.eip, 0x1002);
        // Outside memory: a fault, al unchanged.
        c.regs[EBX] = 0x5000;
        c.eip = 0x1000;
        assert!(matches!(c.step(), Err(Exception::Access { .. })));
        assert_eq!(c.regs[EAX], 0xAABB_CC30);
    }

    /// Flags every compared instruction defines.
    const ARITH: u32 = CF | PF | AF | ZF | SF | OF;

    /// The instructions checked against the processor running the tests:
    /// bytes for the emulator (operating on eax with ecx, or cl, and edx),
    /// the same instruction for the host, and the flags it leaves
    /// undefined (not compared).
    #[cfg(target_arch = "x86_64")]
    macro_rules! cases {
        ($( ($bytes:expr, $asm:literal, $undef:expr) ),* $(,)?) => {
            vec![$( (
                &$bytes[..],
                $asm,
                (|a: u32, c: u32, d: u32, fin: u32| -> (u32, u32, u32) {
                    let mut x = a;
                    let mut y = d;
                    let f: u64;
                    // SAFETY: the instruction touches only eax, ecx, edx and
                    // the flags, saved and restored around it on the stack.
                    #[allow(unsafe_code)]
                    unsafe {
                        std::arch::asm!(
                            "push {fin}",
                            "popfq",
                            $asm,
                            "pushfq",
                            "pop {f}",
                            fin = in(reg) u64::from(fin),
                            f = out(reg) f,
                            inout("eax") x,
                            in("ecx") c,
                            inout("edx") y,
                        );
                    }
                    (x, y, f as u32)
                }) as fn(u32, u32, u32, u32) -> (u32, u32, u32),
                $undef as u32,
            ) ),*]
        };
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn arithmetic_and_flags_match_the_processor() {
        let logic_undef = AF;
        let shift_undef = AF | OF;
        let rot_undef = OF;
        let cases = cases![
            ([0x01, 0xC8], "add eax, ecx", 0),
            ([0x00, 0xC8], "add al, cl", 0),
            ([0x66, 0x01, 0xC8], "add ax, cx", 0),
            ([0x11, 0xC8], "adc eax, ecx", 0),
            ([0x10, 0xC8], "adc al, cl", 0),
            ([0x29, 0xC8], "sub eax, ecx", 0),
            ([0x28, 0xC8], "sub al, cl", 0),
            ([0x66, 0x29, 0xC8], "sub ax, cx", 0),
            ([0x19, 0xC8], "sbb eax, ecx", 0),
            ([0x18, 0xC8], "sbb al, cl", 0),
            ([0x39, 0xC8], "cmp eax, ecx", 0),
            ([0x38, 0xC8], "cmp al, cl", 0),
            ([0x21, 0xC8], "and eax, ecx", logic_undef),
            ([0x09, 0xC8], "or eax, ecx", logic_undef),
            ([0x30, 0xC8], "xor al, cl", logic_undef),
            ([0x85, 0xC8], "test eax, ecx", logic_undef),
            ([0xF7, 0xD8], "neg eax", 0),
            ([0xF6, 0xD8], "neg al", 0),
            ([0xFF, 0xC0], "inc eax", 0),
            ([0xFE, 0xC8], "dec al", 0),
            ([0x66, 0xFF, 0xC8], "dec ax", 0),
            ([0xD3, 0xE0], "shl eax, cl", shift_undef),
            ([0xD2, 0xE0], "shl al, cl", shift_undef),
            ([0x66, 0xD3, 0xE0], "shl ax, cl", shift_undef),
            ([0xD3, 0xE8], "shr eax, cl", shift_undef),
            ([0xD2, 0xE8], "shr al, cl", shift_undef),
            ([0xD3, 0xF8], "sar eax, cl", shift_undef),
            ([0xD2, 0xF8], "sar al, cl", shift_undef),
            ([0xD3, 0xC0], "rol eax, cl", rot_undef),
            ([0xD2, 0xC0], "rol al, cl", rot_undef),
            ([0xD3, 0xC8], "ror eax, cl", rot_undef),
            ([0xD2, 0xC8], "ror al, cl", rot_undef),
            ([0xD3, 0xD0], "rcl eax, cl", rot_undef),
            ([0xD2, 0xD0], "rcl al, cl", rot_undef),
            ([0x66, 0xD3, 0xD0], "rcl ax, cl", rot_undef),
            ([0xD3, 0xD8], "rcr eax, cl", rot_undef),
            ([0xD2, 0xD8], "rcr al, cl", rot_undef),
            ([0xD1, 0xE0], "shl eax, 1", AF),
            ([0xD1, 0xE8], "shr eax, 1", AF),
            ([0xD1, 0xD0], "rcl eax, 1", 0),
            ([0xD1, 0xD8], "rcr eax, 1", 0),
            ([0xD1, 0xC0], "rol eax, 1", 0),
            ([0xD1, 0xC8], "ror eax, 1", 0),
            ([0x0F, 0xA5, 0xD0], "shld eax, edx, cl", shift_undef),
            ([0x0F, 0xAD, 0xD0], "shrd eax, edx, cl", shift_undef),
            ([0x0F, 0xAF, 0xC1], "imul eax, ecx", SF | ZF | AF | PF),
            ([0x0F, 0xA3, 0xC8], "bt eax, ecx", OF | SF | AF | PF),
            ([0xF7, 0xE1], "mul ecx", SF | ZF | AF | PF),
            ([0xF7, 0xE9], "imul ecx", SF | ZF | AF | PF),
            ([0xF6, 0xE1], "mul cl", SF | ZF | AF | PF),
            ([0x87, 0xD0], "xchg eax, edx", 0),
            ([0x0F, 0xC1, 0xD0], "xadd eax, edx", 0),
            ([0x0F, 0xBC, 0xC1], "bsf eax, ecx", CF | OF | SF | AF | PF),
            ([0x0F, 0xBD, 0xC1], "bsr eax, ecx", CF | OF | SF | AF | PF),
            ([0x0F, 0x94, 0xC0], "sete al", 0),
            ([0x0F, 0x4C, 0xC1], "cmovl eax, ecx", 0),
            ([0x99], "cdq", 0),
            ([0x98], "cwde", 0),
            ([0x0F, 0xC8], "bswap eax", 0),
            ([0xF5], "cmc", 0),
            ([0x9E], "sahf", 0),
            ([0x9F], "lahf", 0),
            ([0x0F, 0xAB, 0xC8], "bts eax, ecx", OF | SF | AF | PF),
        ];
        let special = [
            0u32,
            1,
            2,
            0x7F,
            0x80,
            0xFF,
            0x100,
            0x7FFF,
            0x8000,
            0xFFFF,
            0x7FFF_FFFF,
            0x8000_0000,
            0xFFFF_FFFF,
            0x1234_5678,
            0x8765_4321,
        ];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u32
        };
        for (bytes, name, host, undef) in cases {
            let shift_like = name.contains(", cl") || name.starts_with("bt");
            for i in 0..600 {
                let a = if i < 60 {
                    special[i % special.len()]
                } else {
                    rnd()
                };
                let c = if shift_like {
                    if i < 34 { i as u32 } else { rnd() % 40 }
                } else if i < 60 {
                    special[(i / special.len() + i) % special.len()]
                } else {
                    rnd()
                };
                let d = rnd();
                let fin = (rnd() & ARITH) | 0x202;
                let (want, want_edx, wflags) = host(a, c, d, fin);
                let mut cpu = cpu(bytes);
                cpu.regs[EAX] = a;
                cpu.regs[ECX] = c;
                cpu.regs[EDX] = d;
                cpu.eflags = fin;
                cpu.step().unwrap();
                let mut undef = undef;
                // bsf/bsr leave the destination undefined for a zero source.
                if name.starts_with("bs") && c == 0 {
                    continue;
                }
                // Counts past the operand's width leave CF undefined.
                let width = if name.contains(" al") {
                    8
                } else if name.contains(" ax") {
                    16
                } else {
                    32
                };
                if shift_like && (c & 0x1F) > width && !name.starts_with("r") {
                    undef |= CF;
                }
                let cmp = ARITH & !undef;
                assert_eq!(
                    (cpu.regs[EAX], cpu.regs[EDX], cpu.eflags & cmp),
                    (want, want_edx, wflags & cmp),
                    "{name} a={a:#x} c={c:#x} d={d:#x} flags in {fin:#x}"
                );
                assert_eq!(cpu.eip, 0x1000 + bytes.len() as u32);
            }
        }
    }
}
