// Runs against the tiny golden model: GEMMA12B_TEST_MODEL=path/to/tiny-gemma4.gguf cargo test --offline
fn model_path() -> String {
    std::env::var("GEMMA12B_TEST_MODEL").expect("set GEMMA12B_TEST_MODEL to tiny-gemma4.gguf")
}

#[test]
fn greedy_generation_matches_the_reference() {
    // readme:begin
    let model = gemma12b::Model::load(&model_path()).expect("load");
    assert_eq!(model.n_vocab(), 373);
    let mut ctx = model.context(128).expect("context");
    let prompt = [2, 126, 308, 283, 71, 194, 314, 247];
    let mut streamed = Vec::new();
    let s = gemma12b::Sampling { temperature: 0.0, max_tokens: 16, ..Default::default() };
    let out = ctx.generate(&prompt, &s, |t| { streamed.push(t); true }).expect("generate");
    // readme:end
    assert_eq!(out, vec![247; 16]);
    assert_eq!(streamed, out);
}

#[test]
fn errors_are_values() {
    let err = gemma12b::Model::load("/nonexistent.gguf").err().expect("must fail");
    assert_eq!(err.status, 2);
    assert!(err.message.contains("/nonexistent.gguf"));
    let model = gemma12b::Model::load(&model_path()).expect("load");
    let mut ctx = model.context(16).expect("context");
    assert!(ctx.decode(&[100000]).is_err());
    assert_eq!(ctx.n_past(), 0);
    let logits = ctx.decode(&[2, 126]).expect("decode");
    assert_eq!(logits.len(), 373);
    assert!(!gemma12b::version().is_empty());
}

#[test]
fn model_params_mirror_the_c_struct() {
    // Spare bytes after the mirror, so a C struct grown past it is reported, not overrun.
    #[repr(C)]
    struct Padded {
        p: gemma12b::ffi::ModelParams,
        spare: [u8; 256],
    }
    let mut padded: Padded = unsafe { std::mem::zeroed() };
    unsafe { gemma12b::ffi::gemma12b_model_params_init(&mut padded.p) };
    assert_eq!(padded.p.struct_size, std::mem::size_of::<gemma12b::ffi::ModelParams>());
    assert_eq!(padded.p.device_index, -1);
    assert_eq!(padded.p.cpu_file_layout, 0);
    assert!(padded.p.mmproj.is_null());
    assert!(padded.spare.iter().all(|&b| b == 0));
}
