//! Embeds the XDP object built by `cargo xtask build-ebpf` into lb-daemon.
//!
//! The object is looked up at `<workspace>/target/ebpf/bpfel-unknown-none/release/lb-xdp`
//! (or at `$LB_EBPF_OBJECT` when set). When it is missing, an empty object is
//! embedded: the daemon builds on a machine without the eBPF toolchain and
//! reports, at the moment it needs the fast path, that `cargo xtask build-ebpf`
//! must be run first.
use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=LB_EBPF_OBJECT");
    let source = env::var_os("LB_EBPF_OBJECT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
                .join("../target/ebpf/bpfel-unknown-none/release/lb-xdp")
        });
    println!("cargo:rerun-if-changed={}", source.display());
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("lb-xdp.o");
    let bytes = fs::read(&source).unwrap_or_else(|_| {
        println!(
            "cargo:warning=eBPF object {} not found; lb-daemon is built without its XDP program \
             (run `cargo xtask build-ebpf`)",
            source.display()
        );
        Vec::new()
    });
    // A new file renamed over the old one, never the old one rewritten: a
    // build directory copied with hard links shares the old file's inode.
    let tmp = out.with_extension("o.new");
    fs::write(&tmp, bytes).expect("write embedded eBPF object into OUT_DIR");
    fs::rename(&tmp, &out).expect("move embedded eBPF object into place");
}
