//! Safe Rust bindings to the gemma12b C ABI. The `ffi` module mirrors `gemma12b.h` by hand;
//! `Model` and `Context` own their handles and free them on drop.
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt;

pub mod ffi {
    use super::*;
    pub type Status = i32;
    pub const OK: Status = 0;
    #[repr(C)]
    pub struct Model {
        _private: [u8; 0],
    }
    #[repr(C)]
    pub struct Context {
        _private: [u8; 0],
    }
    pub type ProgressFn = Option<extern "C" fn(f32, *mut c_void) -> c_int>;
    pub type TokenFn = Option<extern "C" fn(i32, *mut c_void) -> c_int>;
    pub type LogFn = Option<extern "C" fn(c_int, *const c_char, *mut c_void)>;
    /// gemma12b_model_params, every field (gemma12b_model_params_init writes the C struct's size,
    /// so a shorter mirror would be overrun).
    #[repr(C)]
    pub struct ModelParams {
        pub struct_size: usize,
        pub backend: c_int,
        pub n_threads: i32,
        pub progress: ProgressFn,
        pub progress_user_data: *mut c_void,
        pub mmproj: *const c_char,
        pub log: LogFn,
        pub log_user_data: *mut c_void,
        pub device_index: i32,
        pub cpu_file_layout: i32,
    }
    #[repr(C)]
    pub struct ContextParams {
        pub struct_size: usize,
        pub n_ctx: i64,
        pub max_ubatch: i32,
        pub kv_type: c_int,
    }
    #[repr(C)]
    pub struct GenerateParams {
        pub struct_size: usize,
        pub temperature: f32,
        pub top_k: i32,
        pub top_p: f32,
        pub min_p: f32,
        pub repetition_penalty: f32,
        pub presence_penalty: f32,
        pub frequency_penalty: f32,
        pub penalty_last_n: i32,
        pub seed: u64,
        pub max_tokens: i64,
        pub stop_tokens: *const i32,
        pub n_stop_tokens: usize,
    }
    extern "C" {
        pub fn gemma12b_version() -> *const c_char;
        pub fn gemma12b_abi_version() -> i32;
        pub fn gemma12b_last_error() -> *const c_char;
        pub fn gemma12b_model_params_init(p: *mut ModelParams);
        pub fn gemma12b_model_load(path: *const c_char, p: *const ModelParams, out: *mut *mut Model) -> Status;
        pub fn gemma12b_model_free(m: *mut Model);
        pub fn gemma12b_model_n_vocab(m: *const Model) -> i32;
        pub fn gemma12b_context_params_init(p: *mut ContextParams);
        pub fn gemma12b_context_create(m: *mut Model, p: *const ContextParams, out: *mut *mut Context) -> Status;
        pub fn gemma12b_context_free(c: *mut Context);
        pub fn gemma12b_context_n_past(c: *const Context) -> i64;
        pub fn gemma12b_decode_tokens(c: *mut Context, tokens: *const i32, n: usize, all_logits: c_int) -> Status;
        pub fn gemma12b_context_logits(c: *const Context, out: *mut *const f32, rows: *mut i64) -> Status;
        pub fn gemma12b_kv_clear(c: *mut Context) -> Status;
        pub fn gemma12b_generate_params_init(p: *mut GenerateParams);
        pub fn gemma12b_generate(
            c: *mut Context, prompt: *const i32, n_prompt: usize, p: *const GenerateParams, on_token: TokenFn,
            user_data: *mut c_void, out_tokens: *mut i32, out_capacity: usize, out_n: *mut usize, reason: *mut c_int,
        ) -> Status;
    }
}

/// The ABI version these bindings were written for.
pub const ABI_VERSION: i32 = 0;

#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub status: i32,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gemma12b error {}: {}", self.status, self.message)
    }
}
impl std::error::Error for Error {}

fn check(status: ffi::Status) -> Result<(), Error> {
    if status == ffi::OK {
        return Ok(());
    }
    let message = unsafe { CStr::from_ptr(ffi::gemma12b_last_error()) }.to_string_lossy().into_owned();
    Err(Error { status, message })
}

pub fn version() -> String {
    unsafe { CStr::from_ptr(ffi::gemma12b_version()) }.to_string_lossy().into_owned()
}

/// A loaded model. Shareable across threads (the C ABI's contract).
pub struct Model {
    raw: *mut ffi::Model,
}
unsafe impl Send for Model {}
unsafe impl Sync for Model {}

impl Model {
    pub fn load(path: &str) -> Result<Model, Error> {
        assert_eq!(unsafe { ffi::gemma12b_abi_version() }, ABI_VERSION, "libgemma12b ABI mismatch");
        let c_path = CString::new(path).map_err(|_| Error { status: 1, message: "path contains NUL".into() })?;
        let mut raw = std::ptr::null_mut();
        check(unsafe { ffi::gemma12b_model_load(c_path.as_ptr(), std::ptr::null(), &mut raw) })?;
        Ok(Model { raw })
    }
    pub fn n_vocab(&self) -> usize {
        unsafe { ffi::gemma12b_model_n_vocab(self.raw) as usize }
    }
    pub fn context(&self, n_ctx: i64) -> Result<Context<'_>, Error> {
        let mut p: ffi::ContextParams = unsafe { std::mem::zeroed() };
        unsafe { ffi::gemma12b_context_params_init(&mut p) };
        p.n_ctx = n_ctx;
        let mut raw = std::ptr::null_mut();
        check(unsafe { ffi::gemma12b_context_create(self.raw, &p, &mut raw) })?;
        Ok(Context { raw, model: self })
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        unsafe { ffi::gemma12b_model_free(self.raw) }
    }
}

/// One sequence (KV cache + decoder); borrows its model. Send, not Sync.
pub struct Context<'m> {
    raw: *mut ffi::Context,
    model: &'m Model,
}
unsafe impl Send for Context<'_> {}

pub struct Sampling {
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub seed: u64,
    pub max_tokens: i64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling { temperature: 1.0, top_k: 64, top_p: 0.95, seed: 0, max_tokens: 256 }
    }
}

impl Context<'_> {
    pub fn n_past(&self) -> i64 {
        unsafe { ffi::gemma12b_context_n_past(self.raw) }
    }
    /// Appends tokens and returns the logits of the last row.
    pub fn decode(&mut self, tokens: &[i32]) -> Result<Vec<f32>, Error> {
        check(unsafe { ffi::gemma12b_decode_tokens(self.raw, tokens.as_ptr(), tokens.len(), 0) })?;
        let mut p = std::ptr::null();
        let mut rows = 0i64;
        check(unsafe { ffi::gemma12b_context_logits(self.raw, &mut p, &mut rows) })?;
        let n = self.model.n_vocab();
        Ok(unsafe { std::slice::from_raw_parts(p, n) }.to_vec())
    }
    pub fn clear(&mut self) -> Result<(), Error> {
        check(unsafe { ffi::gemma12b_kv_clear(self.raw) })
    }
    /// Generates after `prompt`, calling `on_token` for each token (return false to stop).
    pub fn generate<F: FnMut(i32) -> bool>(&mut self, prompt: &[i32], s: &Sampling, mut on_token: F) -> Result<Vec<i32>, Error> {
        extern "C" fn thunk<F: FnMut(i32) -> bool>(tok: i32, user: *mut c_void) -> c_int {
            let state = unsafe { &mut *(user as *mut (Vec<i32>, F)) };
            state.0.push(tok);
            (state.1)(tok) as c_int
        }
        let mut p: ffi::GenerateParams = unsafe { std::mem::zeroed() };
        unsafe { ffi::gemma12b_generate_params_init(&mut p) };
        p.temperature = s.temperature;
        p.top_k = s.top_k;
        p.top_p = s.top_p;
        p.seed = s.seed;
        p.max_tokens = s.max_tokens;
        let mut state: (Vec<i32>, &mut F) = (Vec::new(), &mut on_token);
        check(unsafe {
            ffi::gemma12b_generate(
                self.raw, prompt.as_ptr(), prompt.len(), &p, Some(thunk::<&mut F>),
                &mut state as *mut _ as *mut c_void, std::ptr::null_mut(), 0, std::ptr::null_mut(), std::ptr::null_mut(),
            )
        })?;
        Ok(state.0)
    }
}

impl Drop for Context<'_> {
    fn drop(&mut self) {
        unsafe { ffi::gemma12b_context_free(self.raw) }
    }
}
