//! Windows paths on an offline volume: case-insensitive lookup under the
//! mount, `%VAR%` expansion, and the program a command line starts.
//!
//! The volume is a victim's and mounted on a rescue system: a path on it
//! is resolved component by component under the root, a symlink is never
//! followed (it could point at the rescue system's own files), and every
//! loop is bounded by a named limit.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Components of one path looked up at most: a deeper path is hostile
/// (Windows' own limit is 32,767 characters, far beyond any real program).
const MAX_COMPONENTS: usize = 64;
/// Directory entries read when looking for a name in another case: a
/// directory made of millions of names must not stall the listing.
const MAX_DIR_ENTRIES: usize = 100_000;
/// Length of an expanded string, Windows' own limit for an environment
/// block value; a value expanding past it is cut (it could not run).
const MAX_EXPANDED: usize = 32_767;
/// Words of a command line tried as an unquoted program path.
const MAX_WORDS: usize = 32;
/// Launchers followed one into another (`cmd /c cmd /c ...`).
const MAX_LAUNCH_DEPTH: usize = 4;

/// Finds `rel` (Windows or / separators, any case) under `root`,
/// case-insensitively, component by component, without following
/// symlinks out of root (a symlink component is not followed at all).
/// None when absent.
///
/// A leading drive (`C:`) is dropped: the root is the volume. `..` is
/// refused (it could climb out of the root), `.` and empty components are
/// skipped. When names differ only in case (possible on a Linux file
/// system), the exact name wins, then the smallest.
pub fn resolve(root: &Path, rel: &str) -> Option<PathBuf> {
    let mut comps: Vec<&str> = rel
        .split(['\\', '/'])
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if let Some(first) = comps.first()
        && is_drive(first)
    {
        comps.remove(0);
    }
    if comps.len() > MAX_COMPONENTS || comps.contains(&"..") {
        return None;
    }
    let mut cur = root.to_path_buf();
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        cur = find_in(&cur, comp, last)?;
    }
    Some(cur)
}

/// A directory's entries by folded name, read once: (name, is a
/// directory, is a symlink) for each, names in any case.
type Listing = std::collections::HashMap<String, Vec<(std::ffi::OsString, bool, bool)>>;

thread_local! {
    /// The directories listed during one [`Cache`] scope: a volume's
    /// autostarts resolve thousands of paths through the same few
    /// folders (`C:\Windows\System32`, `C:\ProgramData`), and one
    /// listing each replaces a `stat` per component per path.
    static LISTINGS: std::cell::RefCell<Option<std::collections::HashMap<PathBuf, Option<Listing>>>> =
        const { std::cell::RefCell::new(None) };
}

/// While alive, [`resolve`] on this thread reads each directory once.
/// For one pass over a volume that does not change meanwhile (an offline
/// disk being listed); dropped, the listings are forgotten.
pub struct Cache {
    outer: bool,
}

impl Cache {
    /// Starts caching on this thread (nested scopes share the outer one).
    pub fn enter() -> Cache {
        let outer = LISTINGS.with(|l| {
            let mut l = l.borrow_mut();
            if l.is_some() {
                false
            } else {
                *l = Some(std::collections::HashMap::new());
                true
            }
        });
        Cache { outer }
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        if self.outer {
            LISTINGS.with(|l| *l.borrow_mut() = None);
        }
    }
}

/// Looks `name` up in `dir`'s listing, from the cache when caching:
/// None when not caching (or the directory cannot be listed whole), else
/// the answer (Some(None): not there).
fn cached_find(dir: &Path, name: &str, last: bool) -> Option<Option<PathBuf>> {
    LISTINGS.with(|l| {
        let mut l = l.borrow_mut();
        let map = l.as_mut()?;
        let listing = map
            .entry(dir.to_path_buf())
            .or_insert_with(|| read_listing(dir))
            .as_ref()?;
        // The same choice as on disk: the exact name first, then the
        // smallest of the names in other cases; never a symlink.
        let ok =
            |&(_, is_dir, is_link): &(std::ffi::OsString, bool, bool)| !is_link && (last || is_dir);
        let Some(found) = listing.get(&fold(name)) else {
            return Some(None);
        };
        if let Some(e) = found.iter().find(|e| e.0 == name && ok(e)) {
            return Some(Some(dir.join(&e.0)));
        }
        Some(
            found
                .iter()
                .filter(|e| ok(e))
                .map(|e| &e.0)
                .min()
                .map(|n| dir.join(n)),
        )
    })
}

fn read_listing(dir: &Path) -> Option<Listing> {
    let mut out = Listing::new();
    for (n, entry) in fs::read_dir(dir).ok()?.enumerate() {
        if n >= MAX_DIR_ENTRIES {
            return None;
        }
        let entry = entry.ok()?;
        let name = entry.file_name();
        let Some(s) = name.to_str() else { continue };
        let Ok(ft) = entry.file_type() else { continue };
        out.entry(fold(s))
            .or_default()
            .push((name.clone(), ft.is_dir(), ft.is_symlink()));
    }
    Some(out)
}

/// The entry of `dir` named `name` in any case: not a symlink, and a
/// directory unless `last`.
fn find_in(dir: &Path, name: &str, last: bool) -> Option<PathBuf> {
    if name.contains('\0') {
        return None;
    }
    if let Some(found) = cached_find(dir, name, last) {
        return found;
    }
    let ok = |p: &Path| match fs::symlink_metadata(p) {
        Ok(m) => !m.file_type().is_symlink() && (last || m.is_dir()),
        Err(_) => false,
    };
    let exact = dir.join(name);
    if ok(&exact) {
        return Some(exact);
    }
    let want = fold(name);
    let mut best: Option<std::ffi::OsString> = None;
    for entry in fs::read_dir(dir).ok()?.take(MAX_DIR_ENTRIES) {
        let Ok(entry) = entry else { continue };
        let file_name = entry.file_name();
        let Some(s) = file_name.to_str() else {
            continue;
        };
        if fold(s) != want {
            continue;
        }
        if best.as_ref().is_none_or(|b| file_name < *b) && ok(&entry.path()) {
            best = Some(file_name);
        }
    }
    best.map(|b| dir.join(b))
}

/// A name folded for comparison as Windows compares names (no case).
fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// Whether `s` is a drive (`C:`).
fn is_drive(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// Expands %VAR% from `vars` (names case-insensitive); unknown ones left
/// as written.
///
/// Values are not expanded again (as Windows does), so the output is
/// bounded; it is still cut at [`MAX_EXPANDED`] bytes.
pub fn expand(s: &str, vars: &Vars) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_EXPANDED));
    let mut rest = s;
    while let Some(start) = rest.find('%') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('%') {
            Some(end) => {
                let name = &after[..end];
                match vars.get(name) {
                    Some(v) if !name.is_empty() => out.push_str(v),
                    _ => {
                        out.push('%');
                        out.push_str(name);
                        out.push('%');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
        if out.len() > MAX_EXPANDED {
            break;
        }
    }
    out.push_str(rest);
    if out.len() > MAX_EXPANDED {
        let mut cut = MAX_EXPANDED;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

/// The variables of a volume for a user (SystemRoot, windir, SystemDrive,
/// ProgramFiles, ProgramFiles(x86), ProgramData, ALLUSERSPROFILE, PUBLIC,
/// and with a profile: USERPROFILE, APPDATA, LOCALAPPDATA, HOMEDRIVE,
/// HOMEPATH, TEMP, TMP).
#[derive(Clone, Debug, Default)]
pub struct Vars {
    /// Upper-cased name to (name as set, value).
    map: BTreeMap<String, String>,
}

impl Vars {
    /// The defaults of a Windows installed on `C:\Windows` (a caller that
    /// read the hives overrides them with [`Vars::set`]).
    pub fn system() -> Vars {
        let mut v = Vars::default();
        for (k, val) in [
            ("SystemDrive", "C:"),
            ("SystemRoot", r"C:\Windows"),
            ("windir", r"C:\Windows"),
            ("ProgramFiles", r"C:\Program Files"),
            ("ProgramFiles(x86)", r"C:\Program Files (x86)"),
            ("ProgramW6432", r"C:\Program Files"),
            ("CommonProgramFiles", r"C:\Program Files\Common Files"),
            (
                "CommonProgramFiles(x86)",
                r"C:\Program Files (x86)\Common Files",
            ),
            ("ProgramData", r"C:\ProgramData"),
            ("ALLUSERSPROFILE", r"C:\ProgramData"),
            ("PUBLIC", r"C:\Users\Public"),
            ("ComSpec", r"C:\Windows\system32\cmd.exe"),
        ] {
            v.set(k, val);
        }
        v
    }

    /// These variables plus a user's, whose profile is `profile`
    /// (`C:\Users\name`).
    pub fn for_user(&self, profile: &str /* C:\Users\name */) -> Vars {
        let mut v = self.clone();
        let profile = profile.trim_end_matches(['\\', '/']);
        v.set("USERPROFILE", profile);
        v.set("APPDATA", &format!(r"{profile}\AppData\Roaming"));
        let local = format!(r"{profile}\AppData\Local");
        v.set("LOCALAPPDATA", &local);
        let temp = format!(r"{local}\Temp");
        v.set("TEMP", &temp);
        v.set("TMP", &temp);
        let (drive, path) = match profile.get(..2) {
            Some(d) if is_drive(d) => (d, &profile[2..]),
            _ => ("", profile),
        };
        if !drive.is_empty() {
            v.set("HOMEDRIVE", drive);
        }
        v.set("HOMEPATH", path);
        if let Some(name) = profile.rsplit(['\\', '/']).next()
            && !name.is_empty()
            && !is_drive(name)
        {
            v.set("USERNAME", name);
        }
        v
    }

    /// Sets `name` (any case) to `value`.
    pub fn set(&mut self, name: &str, value: &str) {
        self.map.insert(name.to_uppercase(), value.to_string());
    }

    /// The value of `name` (any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(&name.to_uppercase()).map(String::as_str)
    }
}

/// The program a command line starts: quoted first token, or the
/// shortest unquoted prefix (cut at a space) that exists on the volume,
/// `.exe` added when it has no extension ("C:\Program Files\x\a.exe
/// -arg"), rundll32/regsvr32/cmd /c/powershell -File/wscript/cscript/mshta
/// arguments followed to the script or DLL they run; `\??\`,
/// `\SystemRoot\`, `system32\` (relative to SystemRoot) and drive-letter
/// forms mapped to the volume root.
///
/// Shortest first is what Windows itself does (CreateProcess, the service
/// manager), so the unquoted-path trick `C:\Program.exe` is what is found
/// when it is there, even before a longer path ending in `.exe`. A bare name (`explorer.exe`) is looked for in System32, then
/// SystemRoot; another relative path is relative to SystemRoot (as for a
/// service's ImagePath). Only the system drive maps to the volume; other
/// drives and network paths give None. When a launcher's script or DLL is
/// not on the volume, the launcher is the target.
pub fn target(root: &Path, command: &str, vars: &Vars) -> Option<PathBuf> {
    let expanded = expand(command.trim(), vars);
    target_depth(root, &expanded, vars, 0)
}

fn target_depth(root: &Path, command: &str, vars: &Vars, depth: usize) -> Option<PathBuf> {
    let (program, args) = split_program(root, command.trim(), vars)?;
    if depth >= MAX_LAUNCH_DEPTH {
        return Some(program);
    }
    let base = program
        .file_name()
        .and_then(|n| n.to_str())
        .map(fold)
        .unwrap_or_default();
    let base = base.strip_suffix(".exe").unwrap_or(&base).to_string();
    let followed = match base.as_str() {
        "rundll32" => first_arg(args, false).and_then(|a| {
            let dll = a.split(',').next().unwrap_or("").trim();
            find_file(root, dll, vars, Some("dll"))
        }),
        "regsvr32" => first_arg(args, true).and_then(|a| find_file(root, &a, vars, Some("dll"))),
        "cmd" => cmd_rest(args).and_then(|rest| target_depth(root, rest, vars, depth + 1)),
        "powershell" | "pwsh" => ps_file(args).and_then(|a| find_file(root, &a, vars, None)),
        "wscript" | "cscript" => {
            first_arg(args, true).and_then(|a| find_file(root, &a, vars, None))
        }
        "mshta" => first_arg(args, false).and_then(|a| {
            let l = fold(&a);
            if l.contains("://") || l.starts_with("javascript:") || l.starts_with("vbscript:") {
                None
            } else {
                find_file(root, &a, vars, None)
            }
        }),
        _ => None,
    };
    Some(followed.unwrap_or(program))
}

/// The program of `command` on the volume and the rest of the line.
fn split_program<'a>(root: &Path, command: &'a str, vars: &Vars) -> Option<(PathBuf, &'a str)> {
    if let Some(q) = command.strip_prefix('"') {
        let end = q.find('"').unwrap_or(q.len());
        let prog = &q[..end];
        let rest = q.get(end + 1..).unwrap_or("");
        return find_file(root, prog, vars, Some("exe")).map(|p| (p, rest));
    }
    // Word boundaries (byte offsets of the spaces) of the first words.
    let ends: Vec<usize> = command
        .match_indices(' ')
        .map(|(i, _)| i)
        .chain(std::iter::once(command.len()))
        .take(MAX_WORDS)
        .collect();
    // Shortest prefix first, as CreateProcess and the service manager
    // read an unquoted path with spaces: `C:\Program Files\My App\app.exe`
    // runs `C:\Program.exe` when that exists (the unquoted-service-path
    // hijack), so that is what the entry names.
    for &end in &ends {
        let cand = command[..end].trim_end_matches(',');
        if cand.is_empty() || cand.ends_with(' ') {
            continue;
        }
        if let Some(p) = find_file(root, cand, vars, Some("exe")) {
            return Some((p, &command[end..]));
        }
    }
    None
}

/// Whether the last component of `s` has an extension.
fn has_ext(s: &str) -> bool {
    s.rsplit(['\\', '/'])
        .next()
        .is_some_and(|n| n.trim_start_matches('.').contains('.'))
}

/// A Windows path of a file mapped onto the volume; `ext` is added when
/// the name has none and the bare name is absent.
fn find_file(root: &Path, path: &str, vars: &Vars, ext: Option<&str>) -> Option<PathBuf> {
    let path = path.trim().trim_matches('"');
    if path.is_empty() {
        return None;
    }
    let is_file = |p: PathBuf| match fs::symlink_metadata(&p) {
        Ok(m) if m.is_file() => Some(p),
        _ => None,
    };
    let try_one = |rel: &str| -> Option<PathBuf> {
        resolve(root, rel).and_then(is_file).or_else(|| match ext {
            Some(e) if !has_ext(rel) => resolve(root, &format!("{rel}.{e}")).and_then(is_file),
            _ => None,
        })
    };
    let system_root = vars.get("SystemRoot").unwrap_or(r"C:\Windows");
    let bare = !path.contains(['\\', '/']);
    if bare {
        for dir in [format!(r"{system_root}\System32"), system_root.to_string()] {
            if let Some(rel) = volume_rel(&format!(r"{dir}\{path}"), vars)
                && let Some(p) = try_one(&rel)
            {
                return Some(p);
            }
        }
        return None;
    }
    let rel = volume_rel(path, vars)?;
    try_one(&rel)
}

/// `path` as a path from the volume root, or None when it is elsewhere
/// (another drive, the network).
fn volume_rel(path: &str, vars: &Vars) -> Option<String> {
    volume_rel_from(path, vars, true)
}

/// [`volume_rel`]; a relative path is taken from SystemRoot only when
/// `relative` (SystemRoot itself, read from a hostile hive, may be
/// relative: it must not be resolved against itself).
fn volume_rel_from(path: &str, vars: &Vars, relative: bool) -> Option<String> {
    let system_root = vars.get("SystemRoot").unwrap_or(r"C:\Windows");
    let mut p = path.replace('/', "\\");
    for prefix in [r"\??\", r"\\?\", r"\\.\"] {
        if let Some(rest) = p.strip_prefix(prefix) {
            p = rest.to_string();
            break;
        }
    }
    let lower = fold(&p);
    if lower.starts_with(r"\systemroot\") {
        p = format!(r"{system_root}\{}", &p[r"\systemroot\".len()..]);
    } else if lower.starts_with(r"system32\") || lower.starts_with(r"syswow64\") {
        p = format!(r"{system_root}\{p}");
    }
    if p.starts_with(r"\\") {
        return None;
    }
    match p.get(..2) {
        Some(d) if is_drive(d) => {
            let sys = vars.get("SystemDrive").unwrap_or("C:");
            if !d.eq_ignore_ascii_case(sys) {
                return None;
            }
            Some(p[2..].to_string())
        }
        _ if p.starts_with('\\') => Some(p),
        // Any other relative path is taken from SystemRoot, as the
        // service control manager does with an ImagePath.
        _ if relative => {
            let sr = volume_rel_from(system_root, vars, false).filter(|s| !s.is_empty())?;
            Some(format!(r"{sr}\{p}"))
        }
        _ => None,
    }
}

/// The arguments of a command line, quotes removed (backslashes are
/// literal: these are paths).
fn args_of(s: &str) -> impl Iterator<Item = String> + '_ {
    let mut chars = s.chars().peekable();
    std::iter::from_fn(move || {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        chars.peek()?;
        let mut out = String::new();
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            if c == '"' {
                quoted = !quoted;
            } else if c.is_whitespace() && !quoted {
                break;
            } else {
                out.push(c);
            }
            chars.next();
        }
        Some(out)
    })
    .take(MAX_WORDS)
}

/// The first argument, switches (`/s`, `-s`) skipped when `skip_switches`.
fn first_arg(args: &str, skip_switches: bool) -> Option<String> {
    args_of(args).find(|a| !(skip_switches && (a.starts_with('/') || a.starts_with('-'))))
}

/// What `cmd` runs: the text after `/c` or `/k`.
fn cmd_rest(args: &str) -> Option<&str> {
    let lower = fold(args);
    // Byte offsets agree when folding keeps lengths; otherwise give up.
    if lower.len() != args.len() {
        return None;
    }
    let pos = ["/c ", "/k ", "/c\"", "/k\""]
        .iter()
        .filter_map(|m| lower.find(m))
        .min()?;
    let rest = args[pos + 2..].trim();
    // `cmd /c "a b"`: cmd drops the outer quotes when the line is one
    // quoted string.
    Some(rest)
}

/// The script of `powershell -File x.ps1` (`-f`, `-fi`, ... any prefix of
/// `-File`, any case).
fn ps_file(args: &str) -> Option<String> {
    let mut it = args_of(args);
    while let Some(a) = it.next() {
        let l = fold(&a);
        let l = l.trim_start_matches(['-', '/']);
        if (a.starts_with('-') || a.starts_with('/')) && !l.is_empty() && "file".starts_with(l) {
            return it.next();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_resolves_as_the_disk_does() {
        let d = tempfile::tempdir().unwrap();
        for f in ["A/b.exe", "a/B.exe", "C/x.exe", "c.txt", "Dir/f"] {
            let p = d.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, b"x").unwrap();
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(d.path().join("C"), d.path().join("link")).unwrap();
        let asks = [
            r"a\b.exe",
            r"A\B.EXE",
            r"c\X.exe",
            r"C:\c\x.exe",
            "C.TXT",
            r"c.txt\x",
            r"link\x.exe",
            r"dir\F",
            r"dir",
            r"missing\x",
            r"dir\f\g",
            r"..\x",
        ];
        let plain: Vec<_> = asks.iter().map(|a| resolve(d.path(), a)).collect();
        let cached: Vec<_> = {
            let _c = Cache::enter();
            asks.iter().map(|a| resolve(d.path(), a)).collect()
        };
        assert_eq!(plain, cached);
        assert!(plain[0].is_some() && plain[6].is_none() && plain[5].is_none());
    }

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "Windows/System32/rundll32.exe",
            "Windows/System32/cmd.exe",
            "Windows/System32/evil.dll",
            "Windows/System32/WindowsPowerShell/v1.0/powershell.exe",
            "Windows/System32/drivers/x.sys",
            "Windows/explorer.exe",
            "Program Files/My App/app.exe",
            "Program.exe",
            "Users/alice/AppData/Roaming/s.ps1",
            "Users/alice/AppData/Local/Temp/b.vbs",
        ] {
            let p = d.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, b"x").unwrap();
        }
        fs::create_dir_all(d.path().join("Windows/System32/wscript.exe")).unwrap();
        d
    }

    #[test]
    fn resolve_any_case() {
        let d = tree();
        let r = d.path();
        assert_eq!(
            resolve(r, r"C:\WINDOWS\system32\RUNDLL32.EXE"),
            Some(r.join("Windows/System32/rundll32.exe"))
        );
        assert_eq!(
            resolve(r, "windows/explorer.exe"),
            Some(r.join("Windows/explorer.exe"))
        );
        assert_eq!(resolve(r, r"Windows\..\Program.exe"), None);
        assert_eq!(resolve(r, r"Windows\nothere"), None);
        assert_eq!(resolve(r, r"Program.exe\x"), None);
    }

    #[cfg(unix)]
    #[test]
    fn resolve_no_symlink() {
        let d = tree();
        let r = d.path();
        std::os::unix::fs::symlink("/etc", r.join("etclink")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", r.join("pw")).unwrap();
        assert_eq!(resolve(r, "etclink/passwd"), None);
        assert_eq!(resolve(r, "ETCLINK/passwd"), None);
        assert_eq!(resolve(r, "pw"), None);
    }

    #[test]
    fn expand_vars() {
        let v = Vars::system().for_user(r"C:\Users\alice");
        assert_eq!(expand(r"%systemroot%\x", &v), r"C:\Windows\x");
        assert_eq!(
            expand("%NOPE%a%appdata%", &v),
            r"%NOPE%aC:\Users\alice\AppData\Roaming"
        );
        assert_eq!(expand("50% off", &v), "50% off");
        assert_eq!(expand("%%", &v), "%%");
        assert_eq!(v.get("homepath"), Some(r"\Users\alice"));
        assert_eq!(v.get("HOMEDRIVE"), Some("C:"));
        assert_eq!(v.get("tmp"), Some(r"C:\Users\alice\AppData\Local\Temp"));
        let big = "%SystemRoot%".repeat(10_000);
        assert!(expand(&big, &v).len() <= MAX_EXPANDED);
    }

    #[test]
    fn targets() {
        let d = tree();
        let r = d.path();
        let v = Vars::system().for_user(r"C:\Users\alice");
        let t = |c: &str| target(r, c, &v).map(|p| p.strip_prefix(r).unwrap().to_path_buf());
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(
            t(r#""C:\Program Files\My App\app.exe" -x"#),
            p("Program Files/My App/app.exe")
        );
        // Unquoted with spaces: the shortest prefix that exists runs, as
        // with CreateProcess (the unquoted-service-path hijack shows).
        assert_eq!(t(r"C:\Program Files\My App\app.exe -x"), p("Program.exe"));
        assert_eq!(t(r"%ProgramFiles%\my app\APP.exe"), p("Program.exe"));
        assert_eq!(t(r"C:\Program Files\My App\app.exe,"), p("Program.exe"));
        fs::remove_file(r.join("Program.exe")).unwrap();
        assert_eq!(
            t(r"C:\Program Files\My App\app.exe -x"),
            p("Program Files/My App/app.exe")
        );
        assert_eq!(
            t(r"%ProgramFiles%\my app\APP.exe"),
            p("Program Files/My App/app.exe")
        );
        fs::write(r.join("Program.exe"), b"x").unwrap();
        // Without an extension, Windows' own order: C:\Program.exe first.
        assert_eq!(t(r"C:\Program Files\My App\app -x"), p("Program.exe"));
        assert_eq!(t("explorer.exe"), p("Windows/explorer.exe"));
        assert_eq!(t(r"C:\Windows\system32\userinit.exe,"), None);
        assert_eq!(
            t(r"\SystemRoot\System32\drivers\x.sys"),
            p("Windows/System32/drivers/x.sys")
        );
        assert_eq!(
            t(r"System32\drivers\x.sys"),
            p("Windows/System32/drivers/x.sys")
        );
        assert_eq!(
            t(r"\??\C:\Windows\System32\drivers\x.sys"),
            p("Windows/System32/drivers/x.sys")
        );
        assert_eq!(
            t(r"rundll32.exe C:\Windows\System32\evil.dll,Entry"),
            p("Windows/System32/evil.dll")
        );
        assert_eq!(
            t(r#"rundll32 "evil",Entry"#),
            p("Windows/System32/evil.dll")
        );
        assert_eq!(
            t(r"rundll32.exe missing.dll,E"),
            p("Windows/System32/rundll32.exe")
        );
        assert_eq!(
            t(
                r"%SystemRoot%\System32\WindowsPowerShell\v1.0\powershell.exe -nop -W hidden -File %APPDATA%\s.ps1"
            ),
            p("Users/alice/AppData/Roaming/s.ps1")
        );
        assert_eq!(
            t(r"cmd /c rundll32 evil.dll,X"),
            p("Windows/System32/evil.dll")
        );
        assert_eq!(t(r"D:\x.exe"), None);
        assert_eq!(t(r"\\server\share\x.exe"), None);
        // A directory is not a program.
        assert_eq!(t(r"wscript.exe //B %TEMP%\b.vbs"), None);
        assert_eq!(t(""), None);
        // A relative SystemRoot (a hostile hive's) is not resolved
        // against itself.
        let mut odd = v.clone();
        odd.set("SystemRoot", "Windows");
        assert_eq!(target(r, r"System32\drivers\x.sys", &odd), None);
        assert_eq!(target(r, "explorer.exe", &odd), None);
        let long = "a ".repeat(100_000);
        assert_eq!(t(&long), None);
    }
}
