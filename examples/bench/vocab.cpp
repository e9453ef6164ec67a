// Synthetic Gemma 4 vocabulary (see vocab.h). Layout:
//   0..4 <pad> <eos> <bos> <unk> <mask>; 46..52 tool tokens; 98 <|think|>; 100/101 channel;
//   105/106 turn; 107 "\n"; 108.. newline / "▁" / tab runs; 238..493 <0x00>..<0xFF>;
//   then single characters, "▁"+character, and merged filler pieces up to 255998;
//   255999 <|image>, 256000 <|audio>, 258880..258884 soft tokens and end markers (spec 5.2).
//   Every other id is an <unusedN> control token.
// Token types follow llama.cpp's converter: the tool/channel/string-delimiter tokens are
// USER_DEFINED (rendered in output), other specials CONTROL, <unk> UNKNOWN, bytes BYTE.
#include "vocab.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <unordered_set>

namespace gemma12b::bench {
namespace {

const char* const kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space marker

struct Special {
  int64_t id;
  const char* text;
  int32_t type;
};

const Special kSpecials[] = {
    {0, "<pad>", kTokControl},          {1, "<eos>", kTokControl},
    {2, "<bos>", kTokControl},          {3, "<unk>", kTokUnknown},
    {4, "<mask>", kTokControl},         {46, "<|tool>", kTokControl},
    {47, "<tool|>", kTokControl},       {48, "<|tool_call>", kTokUserDefined},
    {49, "<tool_call|>", kTokUserDefined}, {50, "<|tool_response>", kTokUserDefined},
    {51, "<tool_response|>", kTokUserDefined}, {52, "<|\"|>", kTokUserDefined},
    {98, "<|think|>", kTokControl},     {100, "<|channel>", kTokUserDefined},
    {101, "<channel|>", kTokUserDefined}, {105, "<|turn>", kTokControl},
    {106, "<turn|>", kTokControl},      {107, "\n", kTokNormal},
    {255999, "<|image>", kTokControl},  {256000, "<|audio>", kTokControl},
    {258880, "<|image|>", kTokControl}, {258881, "<|audio|>", kTokControl},
    {258882, "<image|>", kTokControl},  {258883, "<audio|>", kTokControl},
    {258884, "<|video|>", kTokControl},
};

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

SyntheticVocab make_gemma4_vocab(int64_t n_vocab, uint64_t seed) {
  SyntheticVocab v;
  v.tokens.assign(n_vocab, std::string());
  v.types.assign(n_vocab, kTokControl);
  v.scores.assign(n_vocab, 0.0f);
  std::unordered_set<std::string> used;
  used.reserve(static_cast<size_t>(n_vocab) * 2);
  std::vector<bool> taken(n_vocab, false);
  auto set = [&](int64_t id, const std::string& text, int32_t type) {
    if (id < 0 || id >= n_vocab || taken[id] || !used.insert(text).second) return false;
    v.tokens[id] = text;
    v.types[id] = type;
    taken[id] = true;
    return true;
  };
  for (const Special& s : kSpecials) set(s.id, s.text, s.type);

  // Whitespace runs (108..), then byte pieces at 238..493.
  int64_t id = 108;
  for (int k = 2; k <= 31 && id < 238; ++k) set(id++, repeat("\n", k), kTokNormal);
  for (int k = 1; k <= 31 && id < 238; ++k) set(id++, repeat(kSpace, k), kTokNormal);
  for (int k = 1; k <= 31 && id < 238; ++k) set(id++, repeat("\t", k), kTokNormal);
  for (int b = 0; b < 256 && 238 + b < n_vocab; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    set(238 + b, buf, kTokByte);
  }

  // Normal pieces from 494 on: characters, "▁"+character, then merged fillers.
  int64_t next = 494;
  auto next_free = [&]() {
    while (next < n_vocab && taken[next]) ++next;
    return next;
  };
  const int64_t normal_end = std::min<int64_t>(n_vocab, 255999);
  std::vector<std::string> words, conts;  // merge operands: "▁"-initial pieces and continuations
  std::string chars;
  for (int c = 33; c < 127; ++c) chars += static_cast<char>(c);
  for (char c : chars) {
    const std::string s(1, c);
    if (next_free() < normal_end && set(next, s, kTokNormal)) conts.push_back(s);
  }
  if (next_free() < normal_end) set(next, kSpace, kTokNormal);  // no-op when already a run above
  const std::string letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (char c : letters) {
    const std::string s = kSpace + std::string(1, c);
    if (next_free() < normal_end && set(next, s, kTokNormal)) {
      words.push_back(s);
      v.merges.push_back(std::string(kSpace) + " " + std::string(1, c));
    }
  }
  // Letter-only continuations make the fillers look like words.
  std::vector<std::string> letter_conts;
  for (char c : letters) letter_conts.emplace_back(1, c);
  std::mt19937_64 rng(seed ^ 0x9E3779B97F4A7C15ull);
  auto pick = [&](const std::vector<std::string>& from) -> const std::string& {
    return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng)];
  };
  size_t guard = 0;
  while (next_free() < normal_end && guard < static_cast<size_t>(n_vocab) * 64) {
    ++guard;
    // Grow either a word ("▁"-initial) or a continuation piece by one merge.
    const bool word = (rng() & 3) != 0;
    const std::string& left = word ? pick(words) : pick(letter_conts);
    const std::string& right = pick(letter_conts);
    if (left.size() + right.size() > 18) continue;
    const std::string s = left + right;
    if (!set(next, s, kTokNormal)) continue;
    v.merges.push_back(left + " " + right);
    (word ? words : letter_conts).push_back(s);
  }
  // Scores: SentencePiece-like log-probabilities that fall with the id (unused by BPE).
  for (int64_t i = 0; i < n_vocab; ++i) {
    if (v.types[i] == kTokNormal) v.scores[i] = -static_cast<float>(i) / 1000.0f;
  }
  // Everything left: <unusedN> control tokens.
  int64_t unused = 0;
  for (int64_t i = 0; i < n_vocab; ++i) {
    while (!taken[i]) set(i, "<unused" + std::to_string(unused++) + ">", kTokControl);
  }
  return v;
}

}  // namespace gemma12b::bench
