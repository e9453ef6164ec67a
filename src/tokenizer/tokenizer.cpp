// Gemma BPE tokenizer; see tokenizer.h for the algorithm and the references it follows.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <queue>
#include <utility>

#include "absl/container/flat_hash_map.h"  // absl::flat_hash_map
#include "io/gguf.h"                       // GgufFile
#include "io/hf_config.h"                  // read_text_file
#include "nlohmann/json.hpp"               // nlohmann::json (tokenizer.json)

namespace gemma12b {

namespace {

constexpr char kSpaceMarker[] = "\xE2\x96\x81";  // U+2581 '▁'
constexpr uint32_t kSpaceMarkerCp = 0x2581;

// Decodes one UTF-8 character at s[i]. Returns its length (1..4) and code point; an invalid or
// truncated sequence is a single byte with *cp = kInvalidCp, so every byte string splits into
// "characters" and invalid bytes become byte-fallback pieces.
constexpr uint32_t kInvalidCp = 0xFFFFFFFFu;
inline size_t utf8_char(const unsigned char* s, size_t n, uint32_t* cp) {
  const unsigned c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t len;
  uint32_t v;
  unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    v = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;  // no overlongs
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    v = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // <= U+10FFFF
  } else {
    *cp = kInvalidCp;
    return 1;
  }
  if (n < len || s[1] < lo || s[1] > hi) {
    *cp = kInvalidCp;
    return 1;
  }
  v = (v << 6) | (s[1] & 0x3F);
  for (size_t k = 2; k < len; ++k) {
    if ((s[k] & 0xC0) != 0x80) {
      *cp = kInvalidCp;
      return 1;
    }
    v = (v << 6) | (s[k] & 0x3F);
  }
  *cp = v;
  return len;
}

// "<0xAB>" -> 0xAB, else -1.
int parse_byte_piece(std::string_view p) {
  if (p.size() != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return -1;
  auto hex = [](char ch) -> int {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
  };
  const int h = hex(p[3]), l = hex(p[4]);
  return (h < 0 || l < 0) ? -1 : h * 16 + l;
}

inline uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct MergeInfo {
  int32_t rank;
  int32_t new_id;
};

// A candidate merge of symbol `pos` with its current right neighbour (HF word.rs `Merge`).
struct Candidate {
  int32_t rank;
  int32_t pos;
  int32_t left_id;
  int32_t right_id;
  int32_t new_id;
};
struct CandidateAfter {  // min-heap on (rank, pos): lowest rank first, leftmost on ties
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  }
};

struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
};

}  // namespace

struct Tokenizer::Impl {
  std::vector<std::string> pieces;       // by id ("" for ids no piece names)
  std::vector<TokenType> types;          // by id
  std::vector<std::string> bytes;        // decode() output per id
  absl::flat_hash_map<std::string_view, int32_t> piece_to_id;  // views into `pieces`
  absl::flat_hash_map<uint32_t, int32_t> char_to_id;           // single-character pieces
  std::array<int32_t, 128> ascii_to_id;                        // fast path of char_to_id
  std::array<int32_t, 256> byte_to_id;                         // <0xXX> pieces (-1 if absent)
  absl::flat_hash_map<uint64_t, MergeInfo> merges;
  size_t n_merges = 0;
  // Added-token matcher: pieces by string, and per first byte the distinct lengths (longest first).
  absl::flat_hash_map<std::string_view, int32_t> added;
  std::array<std::vector<uint32_t>, 256> added_lengths;
  int32_t bos = -1, eos = -1, unk = -1, pad = -1;
  bool add_bos = true;

  // Called once pieces/types are final (string_views point into `pieces`).
  Status finish(const std::vector<std::pair<std::string, std::string>>& merge_pairs);
  void encode_span(std::string_view text, std::vector<int32_t>* out) const;
};

Status Tokenizer::Impl::finish(const std::vector<std::pair<std::string, std::string>>& merge_pairs) {
  const size_t n = pieces.size();
  bytes.resize(n);
  piece_to_id.reserve(n);
  ascii_to_id.fill(-1);
  byte_to_id.fill(-1);
  for (size_t i = 0; i < n; ++i) {
    const std::string& p = pieces[i];
    const int32_t id = static_cast<int32_t>(i);
    if (p.empty()) continue;
    piece_to_id.try_emplace(std::string_view(p), id);
    const int b = parse_byte_piece(p);
    if (types[i] == TokenType::kByte || (b >= 0 && types[i] == TokenType::kNormal)) {
      if (b >= 0) {
        types[i] = TokenType::kByte;
        if (byte_to_id[b] < 0) byte_to_id[b] = id;
        bytes[i] = std::string(1, static_cast<char>(b));
        continue;
      }
    }
    // '▁' -> ' ' (HF decoder Replace; llama.cpp llama_unescape_whitespace).
    std::string& d = bytes[i];
    d.reserve(p.size());
    for (size_t k = 0; k < p.size();) {
      if (p.compare(k, 3, kSpaceMarker) == 0) {
        d += ' ';
        k += 3;
      } else {
        d += p[k++];
      }
    }
    const bool is_added = types[i] == TokenType::kControl || types[i] == TokenType::kUserDefined ||
                          types[i] == TokenType::kUnknown;
    if (is_added) {
      added.try_emplace(std::string_view(p), id);
      auto& lens = added_lengths[static_cast<unsigned char>(p[0])];
      if (std::find(lens.begin(), lens.end(), p.size()) == lens.end()) lens.push_back(p.size());
      continue;  // added pieces are never BPE symbols
    }
    uint32_t cp;
    if (utf8_char(reinterpret_cast<const unsigned char*>(p.data()), p.size(), &cp) == p.size() &&
        cp != kInvalidCp) {
      char_to_id.try_emplace(cp, id);
      if (cp < 128 && ascii_to_id[cp] < 0) ascii_to_id[cp] = id;
    }
  }
  for (auto& lens : added_lengths) std::sort(lens.begin(), lens.end(), std::greater<>());

  merges.reserve(merge_pairs.size());
  std::string joined;
  for (size_t r = 0; r < merge_pairs.size(); ++r) {
    const auto& [a, b] = merge_pairs[r];
    auto ia = piece_to_id.find(a), ib = piece_to_id.find(b);
    joined.assign(a).append(b);
    auto ij = piece_to_id.find(joined);
    if (ia == piece_to_id.end() || ib == piece_to_id.end() || ij == piece_to_id.end()) {
      return DataLoss("tokenizer: merge %d ('%s' '%s') names a piece missing from the vocabulary",
                      static_cast<int>(r), a, b);
    }
    // First occurrence wins (llama.cpp bpe_ranks.emplace).
    merges.try_emplace(pair_key(ia->second, ib->second), MergeInfo{static_cast<int32_t>(r), ij->second});
  }
  n_merges = merge_pairs.size();
  return OkStatus();
}

void Tokenizer::Impl::encode_span(std::string_view text, std::vector<int32_t>* out) const {
  if (text.empty()) return;
  // Symbols: one per character (normalised ' ' -> '▁'), byte pieces for characters not in the vocab.
  std::vector<Symbol> sym;
  sym.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  auto push = [&](int32_t id) {
    const int32_t k = static_cast<int32_t>(sym.size());
    sym.push_back(Symbol{id, k - 1, k + 1});
  };
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t len;
    int32_t id = -1;
    if (s[i] < 0x80) {
      cp = s[i];
      len = 1;
      if (cp == ' ') {
        cp = kSpaceMarkerCp;
      } else {
        id = ascii_to_id[cp];
        if (id >= 0) {
          push(id);
          i += 1;
          continue;
        }
      }
    } else {
      len = utf8_char(s + i, n - i, &cp);
    }
    if (cp != kInvalidCp) {
      auto it = char_to_id.find(cp);
      if (it != char_to_id.end()) id = it->second;
    }
    if (id >= 0) {
      push(id);
    } else if (cp == kSpaceMarkerCp && len == 1) {
      // ' ' with no '▁' piece: fall back on the bytes of '▁' (the normalised text).
      for (int k = 0; k < 3; ++k) {
        const int32_t b = byte_to_id[static_cast<unsigned char>(kSpaceMarker[k])];
        push(b >= 0 ? b : unk);
      }
    } else {
      for (size_t k = 0; k < len; ++k) {
        const int32_t b = byte_to_id[s[i + k]];
        push(b >= 0 ? b : unk);
      }
    }
    i += len;
  }
  const int32_t m = static_cast<int32_t>(sym.size());
  sym.back().next = -1;

  // Merge by rank. Stale heap entries are detected by comparing the pair they were made for.
  std::vector<Candidate> storage;
  storage.reserve(sym.size());
  std::priority_queue<Candidate, std::vector<Candidate>, CandidateAfter> heap(CandidateAfter{},
                                                                              std::move(storage));
  auto consider = [&](int32_t pos) {
    if (pos < 0) return;
    const int32_t nx = sym[pos].next;
    if (nx < 0) return;
    auto it = merges.find(pair_key(sym[pos].id, sym[nx].id));
    if (it != merges.end()) {
      heap.push(Candidate{it->second.rank, pos, sym[pos].id, sym[nx].id, it->second.new_id});
    }
  };
  for (int32_t i = 0; i + 1 < m; ++i) consider(i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    Symbol& left = sym[c.pos];
    if (left.id != c.left_id || left.next < 0) continue;
    Symbol& right = sym[left.next];
    if (right.id != c.right_id) continue;
    left.id = c.new_id;
    left.next = right.next;
    if (right.next >= 0) sym[right.next].prev = c.pos;
    right.id = -1;  // dead
    right.next = -1;
    consider(left.prev);
    consider(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = sym[i].next) out->push_back(sym[i].id);
}

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

int32_t Tokenizer::n_vocab() const { return static_cast<int32_t>(impl_->pieces.size()); }
size_t Tokenizer::n_merges() const { return impl_->n_merges; }
int32_t Tokenizer::bos_id() const { return impl_->bos; }
int32_t Tokenizer::eos_id() const { return impl_->eos; }
int32_t Tokenizer::unk_id() const { return impl_->unk; }
int32_t Tokenizer::pad_id() const { return impl_->pad; }
bool Tokenizer::add_bos_default() const { return impl_->add_bos; }

std::vector<int32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& opt) const {
  const Impl& m = *impl_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (opt.add_bos && m.bos >= 0) out.push_back(m.bos);
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t start = 0;  // beginning of the pending BPE span
  for (size_t i = 0; i < text.size(); ++i) {
    const auto& lens = m.added_lengths[s[i]];
    if (lens.empty()) continue;
    for (uint32_t len : lens) {
      if (len > text.size() - i) continue;
      auto it = m.added.find(text.substr(i, len));
      if (it == m.added.end()) continue;
      if (!opt.parse_special && m.types[it->second] != TokenType::kUserDefined) continue;
      m.encode_span(text.substr(start, i - start), &out);
      out.push_back(it->second);
      start = i + len;
      i = start - 1;
      break;
    }
  }
  m.encode_span(text.substr(start), &out);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_control) const {
  std::string out;
  for (int32_t id : ids) {
    if (skip_control && is_control(id)) continue;
    out += token_bytes(id);
  }
  return out;
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
  static const std::string kEmpty;
  return (id >= 0 && id < n_vocab()) ? impl_->bytes[id] : kEmpty;
}

std::optional<int32_t> Tokenizer::id_of(std::string_view piece) const {
  auto it = impl_->piece_to_id.find(piece);
  if (it == impl_->piece_to_id.end()) return std::nullopt;
  return it->second;
}

const std::string& Tokenizer::piece(int32_t id) const {
  static const std::string kEmpty;
  return (id >= 0 && id < n_vocab()) ? impl_->pieces[id] : kEmpty;
}

TokenType Tokenizer::type(int32_t id) const {
  return (id >= 0 && id < n_vocab()) ? impl_->types[id] : TokenType::kUndefined;
}

// ---- loading -----------------------------------------------------------------------------------

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const GgufFile& f) {
  G12_ASSIGN_OR_RETURN(std::string model, f.get_string("tokenizer.ggml.model"));
  if (model != "gemma4") {
    return Unimplemented("tokenizer: tokenizer.ggml.model '%s' is not supported (want gemma4)", model);
  }
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  Impl& m = *t->impl_;
  G12_ASSIGN_OR_RETURN(m.pieces, f.get_string_array("tokenizer.ggml.tokens"));
  const size_t n = m.pieces.size();
  m.types.assign(n, TokenType::kNormal);
  if (f.has("tokenizer.ggml.token_type")) {
    G12_ASSIGN_OR_RETURN(std::vector<int64_t> types, f.get_int_array("tokenizer.ggml.token_type"));
    if (types.size() != n) {
      return DataLoss("tokenizer: %d token types for %d tokens", static_cast<int>(types.size()),
                      static_cast<int>(n));
    }
    for (size_t i = 0; i < n; ++i) {
      m.types[i] = (types[i] >= 0 && types[i] <= 6) ? static_cast<TokenType>(types[i]) : TokenType::kNormal;
    }
  }
  std::vector<std::pair<std::string, std::string>> merge_pairs;
  if (f.has("tokenizer.ggml.merges")) {
    G12_ASSIGN_OR_RETURN(std::vector<std::string> merges, f.get_string_array("tokenizer.ggml.merges"));
    merge_pairs.reserve(merges.size());
    for (const std::string& mg : merges) {
      const size_t sp = mg.find(' ', 1);  // llama.cpp: the first space after the first byte
      if (sp == std::string::npos) return DataLoss("tokenizer: malformed merge '%s'", mg);
      merge_pairs.emplace_back(mg.substr(0, sp), mg.substr(sp + 1));
    }
  }
  auto get_id = [&](const char* key, int32_t* out) -> Status {
    if (!f.has(key)) return OkStatus();
    G12_ASSIGN_OR_RETURN(int64_t v, f.get_int(key));
    if (v < 0 || v >= static_cast<int64_t>(n)) return DataLoss("tokenizer: %s = %d out of range", key, static_cast<int>(v));
    *out = static_cast<int32_t>(v);
    return OkStatus();
  };
  G12_RETURN_IF_ERROR(get_id("tokenizer.ggml.bos_token_id", &m.bos));
  G12_RETURN_IF_ERROR(get_id("tokenizer.ggml.eos_token_id", &m.eos));
  G12_RETURN_IF_ERROR(get_id("tokenizer.ggml.unknown_token_id", &m.unk));
  G12_RETURN_IF_ERROR(get_id("tokenizer.ggml.padding_token_id", &m.pad));
  if (f.has("tokenizer.ggml.add_bos_token")) {
    G12_ASSIGN_OR_RETURN(m.add_bos, f.get_bool("tokenizer.ggml.add_bos_token"));
  }
  G12_RETURN_IF_ERROR(m.finish(merge_pairs));
  return t;
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::from_hf_json(std::string_view json_text) {
  using nlohmann::json;
  json j = json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("tokenizer.json: not a JSON object");
  const json* model = j.contains("model") ? &j["model"] : nullptr;
  if (!model || !model->is_object() || model->value("type", std::string()) != "BPE") {
    return Unimplemented("tokenizer.json: only model.type BPE is supported");
  }
  if (!model->contains("vocab") || !(*model)["vocab"].is_object()) {
    return InvalidArgument("tokenizer.json: model.vocab is missing");
  }
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  Impl& m = *t->impl_;
  // Ids may have gaps and added tokens may lie past the model vocabulary (Gemma 3's 262144).
  int64_t max_id = -1;
  for (const auto& [piece, idv] : (*model)["vocab"].items()) {
    if (!idv.is_number_integer()) return InvalidArgument("tokenizer.json: vocab id of '%s' is not an integer", piece);
    max_id = std::max<int64_t>(max_id, idv.get<int64_t>());
  }
  const json empty_array = json::array();
  const json& added = j.contains("added_tokens") && j["added_tokens"].is_array() ? j["added_tokens"] : empty_array;
  for (const json& a : added) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
        !a["content"].is_string()) {
      return InvalidArgument("tokenizer.json: malformed added_tokens entry");
    }
    max_id = std::max<int64_t>(max_id, a["id"].get<int64_t>());
  }
  if (max_id < 0 || max_id > (1 << 24)) return InvalidArgument("tokenizer.json: bad vocabulary size");
  m.pieces.assign(max_id + 1, std::string());
  m.types.assign(max_id + 1, TokenType::kNormal);
  for (const auto& [piece, idv] : (*model)["vocab"].items()) {
    const int64_t id = idv.get<int64_t>();
    if (id < 0) return InvalidArgument("tokenizer.json: negative id for '%s'", piece);
    m.pieces[id] = piece;
  }
  const bool byte_fallback = model->value("byte_fallback", false);
  for (size_t i = 0; i < m.pieces.size(); ++i) {
    if (byte_fallback && parse_byte_piece(m.pieces[i]) >= 0) m.types[i] = TokenType::kByte;
  }
  std::string unk_piece;
  if (model->contains("unk_token") && (*model)["unk_token"].is_string()) unk_piece = (*model)["unk_token"];
  for (const json& a : added) {
    const int64_t id = a["id"].get<int64_t>();
    if (id < 0) return InvalidArgument("tokenizer.json: negative added token id");
    m.pieces[id] = a["content"].get<std::string>();
    const bool special = a.value("special", false);
    m.types[id] = special ? TokenType::kControl : TokenType::kUserDefined;
    if (m.pieces[id] == unk_piece) m.types[id] = TokenType::kUnknown;
  }
  std::vector<std::pair<std::string, std::string>> merge_pairs;
  if (model->contains("merges") && (*model)["merges"].is_array()) {
    const json& merges = (*model)["merges"];
    merge_pairs.reserve(merges.size());
    for (const json& mg : merges) {
      if (mg.is_string()) {
        const std::string& s = mg.get_ref<const std::string&>();
        const size_t sp = s.find(' ', 1);
        if (sp == std::string::npos) return InvalidArgument("tokenizer.json: malformed merge '%s'", s);
        merge_pairs.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string()) {
        merge_pairs.emplace_back(mg[0].get<std::string>(), mg[1].get<std::string>());
      } else {
        return InvalidArgument("tokenizer.json: malformed merge entry");
      }
    }
  }
  // Special ids by their conventional Gemma names; BOS from the post-processor when it names one.
  auto find_piece = [&](const std::string& p) -> int32_t {
    for (size_t i = 0; i < m.pieces.size(); ++i) {
      if (m.pieces[i] == p) return static_cast<int32_t>(i);
    }
    return -1;
  };
  m.add_bos = false;
  if (j.contains("post_processor") && j["post_processor"].is_object()) {
    const json& pp = j["post_processor"];
    if (pp.value("type", std::string()) == "TemplateProcessing" && pp.contains("single") &&
        pp["single"].is_array() && !pp["single"].empty()) {
      const json& first = pp["single"][0];
      if (first.contains("SpecialToken") && first["SpecialToken"].contains("id")) {
        const std::string name = first["SpecialToken"]["id"].get<std::string>();
        m.bos = find_piece(name);
        m.add_bos = m.bos >= 0;
      }
    }
  }
  if (m.bos < 0) m.bos = find_piece("<bos>");
  m.eos = find_piece("<eos>");
  m.pad = find_piece("<pad>");
  m.unk = unk_piece.empty() ? find_piece("<unk>") : find_piece(unk_piece);
  G12_RETURN_IF_ERROR(m.finish(merge_pairs));
  return t;
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::load(const std::string& path) {
  // The magic decides, from the first 4 bytes: a GGUF is the whole model (gigabytes), so only a
  // tokenizer.json is read in full. (Reading every file whole first took a 12.7 GB q8_0 GGUF into
  // memory next to the loaded model's 12.7 GB, and the process was killed for memory.)
  char magic[4] = {};
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    const size_t got = std::fread(magic, 1, sizeof magic, f);
    std::fclose(f);
    if (got == sizeof magic && std::memcmp(magic, "GGUF", 4) == 0) {
      G12_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> g, GgufFile::open(path));
      return from_gguf(*g);
    }
  }
  G12_ASSIGN_OR_RETURN(std::string text, read_text_file(path));  // also reports a missing file
  return from_hf_json(text);
}

// ---- streaming ---------------------------------------------------------------------------------

size_t utf8_complete_prefix(std::string_view bytes) {
  const size_t n = bytes.size();
  // Look back at most 3 bytes for the lead byte of a sequence that is valid so far but short.
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const unsigned char c = static_cast<unsigned char>(bytes[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    const size_t want = (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    if (want <= back) return n;  // ASCII, an invalid lead, or a complete sequence
    if (back >= 2) {             // the second byte's allowed range depends on the lead
      const unsigned char s1 = static_cast<unsigned char>(bytes[n - back + 1]);
      const unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
      const unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
      if (s1 < lo || s1 > hi) return n;  // can never complete: release as is
    }
    return n - back;
  }
  return n;
}

StreamingDecoder::StreamingDecoder(const Tokenizer& tokenizer, bool skip_control)
    : tokenizer_(tokenizer), skip_control_(skip_control) {}

std::string StreamingDecoder::push(int32_t id) {
  if (!(skip_control_ && tokenizer_.is_control(id))) pending_ += tokenizer_.token_bytes(id);
  const size_t k = utf8_complete_prefix(pending_);
  std::string out = pending_.substr(0, k);
  pending_.erase(0, k);
  return out;
}

std::string StreamingDecoder::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace gemma12b
