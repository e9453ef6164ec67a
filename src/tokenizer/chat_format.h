// Gemma 4 chat format, rendered natively (no Jinja engine), and parsing of the model's replies.
// ref: spec MODEL.md §5.3 (Google prompt-formatting page; the 12B-it chat_template.jinja).
//
//   <bos><|turn>system\n[<|think|>]SYSTEM TEXT[<|tool>declaration:NAME{...}<tool|>...]<turn|>\n
//   <|turn>user\nTEXT<turn|>\n
//   <|turn>model\n[<|channel>thought\nREASONING<channel|>]TEXT[<|tool_call>call:NAME{...}<tool_call|>
//     <|tool_response>response:NAME{...}<tool_response|>...]<turn|>\n
//   <|turn>model\n[<|channel>thought\n<channel|>]            <- generation prompt (empty thought
//                                                               channel when thinking is off)
// Structured values (tool parameters, call arguments, responses) use Gemma's compact syntax: keys
// bare, strings wrapped in <|"|>, objects {k:v,...} with keys in sorted order, arrays [a,b], and the
// values of "type" keys in declarations upper-cased (STRING, OBJECT, ...). JSON crosses this API as
// text so nlohmann_json stays out of headers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace gemma12b {

enum class ChatRole { kSystem, kUser, kModel, kTool };

// "system" / "developer" -> kSystem, "user", "model" / "assistant" -> kModel, "tool".
StatusOr<ChatRole> chat_role_from_name(std::string_view name);

struct ChatPart {
  enum class Kind { kText, kImage, kAudio, kVideo };
  Kind kind = Kind::kText;
  std::string text;  // kText only
};

struct ToolCall {
  std::string name;
  std::string arguments_json = "{}";  // a JSON object
};

struct ToolResponse {
  std::string name;
  std::string response_json = "{}";  // a JSON value; a non-object is rendered as {value:...}
};

struct ChatMessage {
  ChatRole role = ChatRole::kUser;
  std::vector<ChatPart> content;              // text items are trimmed; media become placeholders
  std::string reasoning;                      // kModel: kept only on turns that call tools
  std::vector<ToolCall> tool_calls;           // kModel
  std::vector<ToolResponse> tool_responses;   // kTool

  static ChatMessage text(ChatRole role, std::string text) {
    ChatMessage m;
    m.role = role;
    m.content.push_back(ChatPart{ChatPart::Kind::kText, std::move(text)});
    return m;
  }
};

struct ChatOptions {
  bool add_bos = true;                // emit "<bos>" as text (tokenize with parse_special)
  bool add_generation_prompt = true;  // open "<|turn>model\n" at the end
  bool enable_thinking = false;       // "<|think|>" at the start of the system turn
  // With thinking off, the 12B-it template appends an empty thought channel after the generation
  // prompt (spec pitfall 16). Leave on for the 12B.
  bool empty_thought_channel_when_off = true;
  // Tool declarations, each a JSON object {"name","description","parameters"} (an OpenAI-style
  // {"type":"function","function":{...}} wrapper is accepted).
  std::vector<std::string> tools_json;
};

// Renders the conversation as prompt text containing special-token strings. Consecutive model
// messages (and tool responses between them) form one model turn; reasoning of earlier turns and
// <|channel>...<channel|> spans in model text are stripped, except reasoning on tool-calling turns.
StatusOr<std::string> render_chat(const std::vector<ChatMessage>& messages, const ChatOptions& options);

// A model reply (decoded text, special tokens rendered), split into its parts. Parsing stops at
// <turn|> or <|tool_response> (the stop tokens).
struct ParsedReply {
  std::string reasoning;            // the thought channel, if any
  std::string content;              // the answer text, trimmed
  std::vector<ToolCall> tool_calls;  // arguments converted to JSON
};
StatusOr<ParsedReply> parse_model_reply(std::string_view text);

// Gemma value syntax <-> JSON, exposed for tests and tool plumbing.
StatusOr<std::string> json_to_gemma_value(std::string_view json, bool upper_case_types = false);
StatusOr<std::string> gemma_value_to_json(std::string_view value);

}  // namespace gemma12b
