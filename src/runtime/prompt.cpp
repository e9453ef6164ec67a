#include "runtime/prompt.h"

#include <array>
#include <string>

namespace gemma12b {

namespace {

constexpr std::array<std::string_view, 3> kPlaceholders = {"<|image|>", "<|audio|>", "<|video|>"};

ChatPart::Kind placeholder_kind(size_t i) {
  return i == 0 ? ChatPart::Kind::kImage : i == 1 ? ChatPart::Kind::kAudio : ChatPart::Kind::kVideo;
}

const char* kind_name(ChatPart::Kind k) {
  switch (k) {
    case ChatPart::Kind::kImage: return "image";
    case ChatPart::Kind::kAudio: return "audio";
    case ChatPart::Kind::kVideo: return "video";
    case ChatPart::Kind::kText: break;
  }
  return "text";
}

// Replaces the k-th media placeholder of `text` with the expansion of media[k].
StatusOr<std::string> expand(std::string_view text, std::span<const EmbeddedMedia* const> media) {
  std::string out;
  size_t pos = 0, k = 0;
  while (true) {
    size_t best = std::string_view::npos, which = 0;
    for (size_t i = 0; i < kPlaceholders.size(); ++i) {
      const size_t p = text.find(kPlaceholders[i], pos);
      if (p < best) best = p, which = i;
    }
    if (best == std::string_view::npos) break;
    if (k >= media.size()) {
      return InvalidArgument("prompt: the text has more media placeholders (%s at byte %d) than media items (%d)",
                             std::string(kPlaceholders[which]), static_cast<int64_t>(best),
                             static_cast<int64_t>(media.size()));
    }
    if (media[k] == nullptr || media[k]->kind != placeholder_kind(which)) {
      return InvalidArgument("prompt: placeholder %d is %s but media item %d is not (%s)", static_cast<int64_t>(k),
                             std::string(kPlaceholders[which]), static_cast<int64_t>(k),
                             media[k] ? kind_name(media[k]->kind) : "null");
    }
    out.append(text.substr(pos, best - pos));
    out += media_expansion(*media[k]);
    pos = best + kPlaceholders[which].size();
    ++k;
  }
  if (k != media.size()) {
    return InvalidArgument("prompt: %d media items but only %d placeholders in the text",
                           static_cast<int64_t>(media.size()), static_cast<int64_t>(k));
  }
  out.append(text.substr(pos));
  return out;
}

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

}  // namespace

StatusOr<AssembledPrompt> assemble_prompt(const Tokenizer& tokenizer, std::string_view text,
                                          std::span<const EmbeddedMedia* const> media) {
  G12_ASSIGN_OR_RETURN(std::string expanded, expand(text, media));
  EncodeOptions eo;
  eo.add_bos = false;
  eo.parse_special = true;
  const std::vector<int32_t> ids = tokenizer.encode(expanded, eo);

  std::array<int32_t, 3> soft = {-1, -1, -1};
  for (size_t i = 0; i < kPlaceholders.size(); ++i) {
    if (auto id = tokenizer.id_of(kPlaceholders[i])) soft[i] = *id;
  }
  // The markers and the soft tokens the media need must be in the vocabulary.
  if (!media.empty()) {
    for (const char* marker : {"<|image>", "<image|>", "<|audio>", "<audio|>"}) {
      if (!tokenizer.id_of(marker)) return InvalidArgument("prompt: the vocabulary has no %s token", marker);
    }
    for (const EmbeddedMedia* m : media) {
      const bool video = m->kind == ChatPart::Kind::kVideo;
      for (const MediaBlock& b : m->blocks) {
        const size_t need = b.audio ? 1 : video ? 2 : 0;
        if (soft[need] < 0) return InvalidArgument("prompt: the vocabulary has no %s token", std::string(kPlaceholders[need]));
      }
    }
  }
  auto is_soft = [&](int32_t id) { return id >= 0 && (id == soft[0] || id == soft[1] || id == soft[2]); };

  AssembledPrompt p;
  p.display_tokens = ids;
  size_t m = 0, b = 0;  // next media item and block
  size_t i = 0;
  while (i < ids.size()) {
    if (!is_soft(ids[i])) {
      if (p.segments.empty() || p.segments.back().media) p.segments.emplace_back();
      p.segments.back().tokens.push_back(ids[i]);
      p.block_start.push_back(p.n_rows());
      p.row_keys.push_back(static_cast<uint32_t>(ids[i]));
      ++i;
      continue;
    }
    size_t j = i;
    while (j < ids.size() && ids[j] == ids[i]) ++j;
    const int64_t run = static_cast<int64_t>(j - i);
    while (m < media.size() && b >= media[m]->blocks.size()) ++m, b = 0;
    if (m >= media.size()) {
      return InvalidArgument("prompt: a run of %d soft tokens (id %d) at token %d has no media block (soft-token "
                             "strings in the text?)", run, ids[i], static_cast<int64_t>(i));
    }
    const MediaBlock& blk = media[m]->blocks[b];
    const int32_t want = blk.audio ? soft[1] : media[m]->kind == ChatPart::Kind::kVideo ? soft[2] : soft[0];
    if (ids[i] != want || run != blk.n_rows) {
      return InvalidArgument("prompt: soft-token run of %d x id %d does not match media block of %d rows (id %d); "
                             "soft-token strings in the text?", run, ids[i], blk.n_rows, want);
    }
    PromptSegment seg;
    seg.media = &blk;
    p.segments.push_back(std::move(seg));
    const int64_t start = p.n_rows();
    for (int64_t r = 0; r < run; ++r) {
      p.block_start.push_back(blk.bidirectional ? start : start + r);
      p.row_keys.push_back((1ull << 63) | mix(blk.hash + static_cast<uint64_t>(r) * 0x9e3779b97f4a7c15ull));
    }
    ++b;
    i = j;
  }
  while (m < media.size() && b >= media[m]->blocks.size()) ++m, b = 0;
  if (m < media.size()) return InvalidArgument("prompt: media item %d has no soft tokens in the prompt", static_cast<int64_t>(m));
  return p;
}

}  // namespace gemma12b
