// Links libgemma12b from GEMMA12B_LIB_DIR (the installed package's lib directory) or the
// system's default search path.
fn main() {
    println!("cargo:rerun-if-env-changed=GEMMA12B_LIB_DIR");
    if let Ok(dir) = std::env::var("GEMMA12B_LIB_DIR") {
        println!("cargo:rustc-link-search=native={dir}");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rustc-link-lib=dylib=gemma12b");
}
