// Gemma 4 chat format; see chat_format.h for the layout.
#include "tokenizer/chat_format.h"

#include <cctype>
#include <utility>

#include "nlohmann/json.hpp"  // nlohmann::json (tool schemas, arguments)

namespace gemma12b {

namespace {

using nlohmann::json;

constexpr std::string_view kBos = "<bos>";
constexpr std::string_view kTurnOpen = "<|turn>";
constexpr std::string_view kTurnClose = "<turn|>";
constexpr std::string_view kThink = "<|think|>";
constexpr std::string_view kChannelOpen = "<|channel>";
constexpr std::string_view kChannelClose = "<channel|>";
constexpr std::string_view kToolOpen = "<|tool>";
constexpr std::string_view kToolClose = "<tool|>";
constexpr std::string_view kCallOpen = "<|tool_call>";
constexpr std::string_view kCallClose = "<tool_call|>";
constexpr std::string_view kRespOpen = "<|tool_response>";
constexpr std::string_view kRespClose = "<tool_response|>";
constexpr std::string_view kQuote = "<|\"|>";

std::string_view trim(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

StatusOr<json> parse_json(std::string_view text, const char* what) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument("chat: %s is not valid JSON", what);
  return j;
}

void append_value(const json& v, bool upper_types, std::string* out);

void append_object(const json& obj, bool upper_types, std::string* out) {
  *out += '{';
  bool first = true;
  for (const auto& [k, v] : obj.items()) {  // nlohmann's object keeps keys sorted
    if (!first) *out += ',';
    first = false;
    *out += k;
    *out += ':';
    if (upper_types && k == "type" && v.is_string()) {
      std::string t = v.get<std::string>();
      for (char& c : t) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      append_value(json(t), upper_types, out);
    } else {
      append_value(v, upper_types, out);
    }
  }
  *out += '}';
}

void append_value(const json& v, bool upper_types, std::string* out) {
  if (v.is_object()) {
    append_object(v, upper_types, out);
  } else if (v.is_array()) {
    *out += '[';
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) *out += ',';
      append_value(v[i], upper_types, out);
    }
    *out += ']';
  } else if (v.is_string()) {
    *out += kQuote;
    *out += v.get_ref<const std::string&>();
    *out += kQuote;
  } else {
    *out += v.dump(-1, ' ', false, json::error_handler_t::replace);  // numbers, true/false, null
  }
}

// Recursive-descent parser of the Gemma value syntax.
struct ValueParser {
  std::string_view s;
  size_t i = 0;
  int depth = 0;

  void skip_ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
  }
  bool starts(std::string_view p) const { return s.substr(i, p.size()) == p; }

  StatusOr<json> value() {
    if (++depth > 64) return InvalidArgument("chat: value nested too deeply");
    skip_ws();
    if (i >= s.size()) return InvalidArgument("chat: value expected at end of input");
    StatusOr<json> r;
    if (starts(kQuote)) {
      i += kQuote.size();
      const size_t end = s.find(kQuote, i);
      if (end == std::string_view::npos) return InvalidArgument("chat: unterminated <|\"|> string");
      r = json(std::string(s.substr(i, end - i)));
      i = end + kQuote.size();
    } else if (s[i] == '{') {
      r = object();
    } else if (s[i] == '[') {
      ++i;
      json arr = json::array();
      skip_ws();
      if (i < s.size() && s[i] == ']') {
        ++i;
      } else {
        for (;;) {
          G12_ASSIGN_OR_RETURN(json v, value());
          arr.push_back(std::move(v));
          skip_ws();
          if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
          }
          if (i < s.size() && s[i] == ']') {
            ++i;
            break;
          }
          return InvalidArgument("chat: ',' or ']' expected at offset %d", static_cast<int>(i));
        }
      }
      r = std::move(arr);
    } else {
      // A bare scalar: number, true, false, null (or, leniently, a bare word as a string).
      const size_t start = i;
      while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
      const std::string_view word = trim(s.substr(start, i - start));
      if (word.empty()) return InvalidArgument("chat: value expected at offset %d", static_cast<int>(start));
      json j = json::parse(word.begin(), word.end(), nullptr, false);
      r = (j.is_discarded() || j.is_object() || j.is_array()) ? json(std::string(word)) : j;
    }
    --depth;
    return r;
  }

  StatusOr<json> object() {
    if (i >= s.size() || s[i] != '{') return InvalidArgument("chat: '{' expected at offset %d", static_cast<int>(i));
    ++i;
    json obj = json::object();
    skip_ws();
    if (i < s.size() && s[i] == '}') {
      ++i;
      return obj;
    }
    for (;;) {
      skip_ws();
      std::string key;
      if (starts(kQuote)) {
        G12_ASSIGN_OR_RETURN(json k, value());
        key = k.get<std::string>();
      } else {
        const size_t start = i;
        while (i < s.size() && s[i] != ':') ++i;
        key = std::string(trim(s.substr(start, i - start)));
      }
      skip_ws();
      if (i >= s.size() || s[i] != ':') return InvalidArgument("chat: ':' expected after key '%s'", key);
      ++i;
      G12_ASSIGN_OR_RETURN(json v, value());
      obj[key] = std::move(v);
      skip_ws();
      if (i < s.size() && s[i] == ',') {
        ++i;
        continue;
      }
      if (i < s.size() && s[i] == '}') {
        ++i;
        return obj;
      }
      return InvalidArgument("chat: ',' or '}' expected at offset %d", static_cast<int>(i));
    }
  }
};

// Removes every <|channel>...<channel|> span (strip_thinking), then trims.
std::string strip_thinking(std::string_view text) {
  std::string out;
  size_t i = 0;
  for (;;) {
    const size_t a = text.find(kChannelOpen, i);
    if (a == std::string_view::npos) break;
    out += text.substr(i, a - i);
    const size_t b = text.find(kChannelClose, a);
    if (b == std::string_view::npos) {
      i = text.size();
      break;
    }
    i = b + kChannelClose.size();
  }
  out += text.substr(std::min(i, text.size()));
  return std::string(trim(out));
}

Status append_content(const ChatMessage& m, bool is_model, std::string* out) {
  for (const ChatPart& p : m.content) {
    switch (p.kind) {
      case ChatPart::Kind::kText:
        *out += is_model ? strip_thinking(p.text) : std::string(trim(p.text));
        break;
      case ChatPart::Kind::kImage:
        *out += "\n\n<|image|>\n\n";
        break;
      case ChatPart::Kind::kVideo:
        *out += "\n\n<|video|>\n\n";
        break;
      case ChatPart::Kind::kAudio:
        *out += "<|audio|>";
        break;
    }
  }
  return OkStatus();
}

Status append_tool_declaration(const std::string& tool_json, std::string* out) {
  G12_ASSIGN_OR_RETURN(json t, parse_json(tool_json, "a tool declaration"));
  if (t.is_object() && t.contains("function") && t["function"].is_object()) t = t["function"];
  if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) {
    return InvalidArgument("chat: a tool declaration needs a \"name\"");
  }
  json body = json::object();
  if (t.contains("description")) body["description"] = t["description"];
  if (t.contains("parameters")) body["parameters"] = t["parameters"];
  if (t.contains("response")) body["response"] = t["response"];
  *out += kToolOpen;
  *out += "declaration:";
  *out += t["name"].get<std::string>();
  append_object(body, /*upper_types=*/true, out);
  *out += kToolClose;
  return OkStatus();
}

Status append_call(const ToolCall& c, std::string* out) {
  G12_ASSIGN_OR_RETURN(json args, parse_json(c.arguments_json, "tool call arguments"));
  if (!args.is_object()) return InvalidArgument("chat: arguments of '%s' are not a JSON object", c.name);
  *out += kCallOpen;
  *out += "call:";
  *out += c.name;
  append_object(args, false, out);
  *out += kCallClose;
  return OkStatus();
}

Status append_response(const ToolResponse& r, std::string* out) {
  G12_ASSIGN_OR_RETURN(json v, parse_json(r.response_json, "a tool response"));
  if (!v.is_object()) v = json{{"value", v}};
  *out += kRespOpen;
  *out += "response:";
  *out += r.name;
  append_object(v, false, out);
  *out += kRespClose;
  return OkStatus();
}

}  // namespace

StatusOr<ChatRole> chat_role_from_name(std::string_view name) {
  if (name == "system" || name == "developer") return ChatRole::kSystem;
  if (name == "user") return ChatRole::kUser;
  if (name == "model" || name == "assistant") return ChatRole::kModel;
  if (name == "tool") return ChatRole::kTool;
  return InvalidArgument("chat: unknown role '%s'", std::string(name));
}

StatusOr<std::string> render_chat(const std::vector<ChatMessage>& messages, const ChatOptions& opt) {
  std::string out;
  if (opt.add_bos) out += kBos;
  size_t first = 0;
  const bool has_system = !messages.empty() && messages[0].role == ChatRole::kSystem;
  if (has_system || opt.enable_thinking || !opt.tools_json.empty()) {
    out += kTurnOpen;
    out += "system\n";
    if (opt.enable_thinking) out += kThink;
    if (has_system) {
      G12_RETURN_IF_ERROR(append_content(messages[0], false, &out));
      first = 1;
    }
    for (const std::string& t : opt.tools_json) G12_RETURN_IF_ERROR(append_tool_declaration(t, &out));
    out += kTurnClose;
    out += "\n";
  }
  bool model_open = false;     // inside a model turn (tool calls/responses continue it)
  bool awaiting_model = false;  // the open model turn ends in tool responses: the model continues
  for (size_t k = first; k < messages.size(); ++k) {
    const ChatMessage& m = messages[k];
    switch (m.role) {
      case ChatRole::kSystem:
        return InvalidArgument("chat: a system message is only allowed first (message %d)", static_cast<int>(k));
      case ChatRole::kUser:
        if (model_open) {
          out += kTurnClose;
          out += "\n";
          model_open = false;
        }
        out += kTurnOpen;
        out += "user\n";
        G12_RETURN_IF_ERROR(append_content(m, false, &out));
        out += kTurnClose;
        out += "\n";
        awaiting_model = false;
        break;
      case ChatRole::kModel:
        if (!model_open) {
          out += kTurnOpen;
          out += "model\n";
          model_open = true;
        }
        // Reasoning survives only on turns that call tools (the template's strip_thinking rule).
        if (!m.tool_calls.empty() && !m.reasoning.empty()) {
          out += kChannelOpen;
          out += "thought\n";
          out += trim(m.reasoning);
          out += kChannelClose;
        }
        G12_RETURN_IF_ERROR(append_content(m, true, &out));
        for (const ToolCall& c : m.tool_calls) G12_RETURN_IF_ERROR(append_call(c, &out));
        awaiting_model = false;
        break;
      case ChatRole::kTool:
        if (!model_open) {
          return InvalidArgument("chat: tool response (message %d) without a preceding model tool call",
                                 static_cast<int>(k));
        }
        for (const ToolResponse& r : m.tool_responses) G12_RETURN_IF_ERROR(append_response(r, &out));
        awaiting_model = true;
        break;
    }
  }
  if (model_open && !(awaiting_model && opt.add_generation_prompt)) {
    out += kTurnClose;
    out += "\n";
    model_open = false;
  }
  if (opt.add_generation_prompt && !model_open) {
    out += kTurnOpen;
    out += "model\n";
    if (!opt.enable_thinking && opt.empty_thought_channel_when_off) {
      out += kChannelOpen;
      out += "thought\n";
      out += kChannelClose;
    }
  }
  return out;
}

StatusOr<ParsedReply> parse_model_reply(std::string_view text) {
  // Stop at the first stop marker.
  for (std::string_view stop : {kTurnClose, kRespOpen}) {
    const size_t p = text.find(stop);
    if (p != std::string_view::npos) text = text.substr(0, p);
  }
  ParsedReply r;
  std::string rest;
  size_t i = 0;
  while (i < text.size()) {
    const size_t ch = text.find(kChannelOpen, i);
    const size_t call = text.find(kCallOpen, i);
    const size_t next = std::min(ch, call);
    if (next == std::string_view::npos) {
      rest += text.substr(i);
      break;
    }
    rest += text.substr(i, next - i);
    if (next == ch) {
      const size_t end = text.find(kChannelClose, ch);
      std::string_view body = text.substr(ch + kChannelOpen.size(),
                                          end == std::string_view::npos ? std::string_view::npos
                                                                        : end - ch - kChannelOpen.size());
      if (body.substr(0, 7) == "thought") body.remove_prefix(7);
      if (!r.reasoning.empty()) r.reasoning += "\n";
      r.reasoning += trim(body);
      i = end == std::string_view::npos ? text.size() : end + kChannelClose.size();
    } else {
      const size_t end = text.find(kCallClose, call);
      if (end == std::string_view::npos) return InvalidArgument("chat: unterminated <|tool_call>");
      std::string_view body = trim(text.substr(call + kCallOpen.size(), end - call - kCallOpen.size()));
      if (body.substr(0, 5) != "call:") return InvalidArgument("chat: tool call does not start with 'call:'");
      body.remove_prefix(5);
      const size_t brace = body.find('{');
      if (brace == std::string_view::npos) return InvalidArgument("chat: tool call without arguments");
      ToolCall c;
      c.name = std::string(trim(body.substr(0, brace)));
      if (c.name.empty()) return InvalidArgument("chat: tool call without a name");
      ValueParser p{body.substr(brace)};
      G12_ASSIGN_OR_RETURN(json args, p.object());
      p.skip_ws();
      if (p.i != p.s.size()) return InvalidArgument("chat: trailing text after the arguments of '%s'", c.name);
      c.arguments_json = args.dump(-1, ' ', false, json::error_handler_t::replace);
      r.tool_calls.push_back(std::move(c));
      i = end + kCallClose.size();
    }
  }
  r.content = std::string(trim(rest));
  return r;
}

StatusOr<std::string> json_to_gemma_value(std::string_view json_text, bool upper_case_types) {
  G12_ASSIGN_OR_RETURN(json v, parse_json(json_text, "the value"));
  std::string out;
  append_value(v, upper_case_types, &out);
  return out;
}

StatusOr<std::string> gemma_value_to_json(std::string_view value) {
  ValueParser p{value};
  G12_ASSIGN_OR_RETURN(json v, p.value());
  p.skip_ws();
  if (p.i != p.s.size()) return InvalidArgument("chat: trailing text after the value");
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace gemma12b
