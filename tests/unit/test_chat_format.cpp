// Gemma 4 chat format: renderings from spec MODEL.md §5.3, tool declaration/call/response syntax,
// media placeholders, thought stripping, and parsing model replies into structured tool calls.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tokenizer/chat_format.h"
#include "tokenizer/tokenizer.h"

namespace gemma12b {
namespace {

using K = ChatPart::Kind;

std::string render_ok(const std::vector<ChatMessage>& msgs, const ChatOptions& opt = {}) {
  auto r = render_chat(msgs, opt);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return *r;
}

TEST_CASE("chat: plain user turn, thinking off appends the empty thought channel") {
  const auto s = render_ok({ChatMessage::text(ChatRole::kUser, "  Hello there!\n")});
  CHECK(s == "<bos><|turn>user\nHello there!<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
  ChatOptions opt;
  opt.add_bos = false;
  opt.add_generation_prompt = false;
  CHECK(render_ok({ChatMessage::text(ChatRole::kUser, "Hi")}, opt) == "<|turn>user\nHi<turn|>\n");
  opt.add_generation_prompt = true;
  opt.empty_thought_channel_when_off = false;
  CHECK(render_ok({ChatMessage::text(ChatRole::kUser, "Hi")}, opt) == "<|turn>user\nHi<turn|>\n<|turn>model\n");
}

TEST_CASE("chat: thinking on matches the spec example") {
  ChatOptions opt;
  opt.enable_thinking = true;
  const auto s = render_ok({ChatMessage::text(ChatRole::kUser, "What is the water formula?")}, opt);
  CHECK(s == "<bos><|turn>system\n<|think|><turn|>\n<|turn>user\nWhat is the water formula?<turn|>\n<|turn>model\n");
}

TEST_CASE("chat: system turn and role names") {
  const auto s = render_ok({ChatMessage::text(ChatRole::kSystem, "You are terse."),
                            ChatMessage::text(ChatRole::kUser, "Hi")});
  CHECK(s == "<bos><|turn>system\nYou are terse.<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n"
             "<|channel>thought\n<channel|>");
  ChatOptions opt;
  opt.enable_thinking = true;
  const auto t = render_ok({ChatMessage::text(ChatRole::kSystem, "You are terse."),
                            ChatMessage::text(ChatRole::kUser, "Hi")}, opt);
  CHECK(t == "<bos><|turn>system\n<|think|>You are terse.<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n");
  CHECK(chat_role_from_name("assistant").value() == ChatRole::kModel);
  CHECK(chat_role_from_name("developer").value() == ChatRole::kSystem);
  CHECK(!chat_role_from_name("narrator").ok());
  // A system message anywhere but first is an error.
  CHECK(!render_chat({ChatMessage::text(ChatRole::kUser, "a"), ChatMessage::text(ChatRole::kSystem, "b")}, {}).ok());
}

TEST_CASE("chat: multi-turn history strips earlier thoughts") {
  ChatMessage m1 = ChatMessage::text(ChatRole::kModel, "<|channel>thought\nH2O is water.<channel|>It is H2O.");
  m1.reasoning = "separate reasoning, also dropped";
  const auto s = render_ok({ChatMessage::text(ChatRole::kUser, "What is the water formula?"), m1,
                            ChatMessage::text(ChatRole::kUser, "And salt?")});
  CHECK(s == "<bos><|turn>user\nWhat is the water formula?<turn|>\n<|turn>model\nIt is H2O.<turn|>\n"
             "<|turn>user\nAnd salt?<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
}

TEST_CASE("chat: tool declaration, call and response") {
  ChatOptions opt;
  opt.tools_json.push_back(R"({"type":"function","function":{"name":"get_weather",
      "description":"Current weather","parameters":{"type":"object",
      "properties":{"city":{"type":"string","description":"City name"},"days":{"type":"integer"}},
      "required":["city"]}}})");
  ChatMessage call;
  call.role = ChatRole::kModel;
  call.reasoning = "Need the weather tool.";
  call.tool_calls.push_back(ToolCall{"get_weather", R"({"city":"Paris","days":2})"});
  ChatMessage resp;
  resp.role = ChatRole::kTool;
  resp.tool_responses.push_back(ToolResponse{"get_weather", R"({"temp_c":21.5,"sky":"clear"})"});
  const std::string decl =
      "<|tool>declaration:get_weather{description:<|\"|>Current weather<|\"|>,parameters:{properties:"
      "{city:{description:<|\"|>City name<|\"|>,type:<|\"|>STRING<|\"|>},days:{type:<|\"|>INTEGER<|\"|>}},"
      "required:[<|\"|>city<|\"|>],type:<|\"|>OBJECT<|\"|>}}<tool|>";
  const std::string head = "<bos><|turn>system\n" + decl + "<turn|>\n<|turn>user\nWeather in Paris?<turn|>\n"
                           "<|turn>model\n<|channel>thought\nNeed the weather tool.<channel|>"
                           "<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>,days:2}<tool_call|>"
                           "<|tool_response>response:get_weather{sky:<|\"|>clear<|\"|>,temp_c:21.5}<tool_response|>";
  // After the response the model continues in the same turn.
  const auto s = render_ok({ChatMessage::text(ChatRole::kUser, "Weather in Paris?"), call, resp}, opt);
  CHECK(s == head);
  // With the final answer, the turn (one merged model turn) is closed before the next prompt.
  const auto t = render_ok({ChatMessage::text(ChatRole::kUser, "Weather in Paris?"), call, resp,
                            ChatMessage::text(ChatRole::kModel, "Clear, 21.5 C.")}, opt);
  CHECK(t == head + "Clear, 21.5 C.<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
  // A non-object response is wrapped as {value:...}.
  ChatMessage resp2;
  resp2.role = ChatRole::kTool;
  resp2.tool_responses.push_back(ToolResponse{"f", R"("ok")"});
  ChatMessage call2;
  call2.role = ChatRole::kModel;
  call2.tool_calls.push_back(ToolCall{"f", "{}"});
  ChatOptions plain;
  plain.add_bos = false;
  CHECK(render_ok({ChatMessage::text(ChatRole::kUser, "go"), call2, resp2}, plain) ==
        "<|turn>user\ngo<turn|>\n<|turn>model\n<|tool_call>call:f{}<tool_call|>"
        "<|tool_response>response:f{value:<|\"|>ok<|\"|>}<tool_response|>");
  // Errors: bad JSON, a tool response with no model turn.
  ChatOptions bad;
  bad.tools_json.push_back("{not json");
  CHECK(!render_chat({ChatMessage::text(ChatRole::kUser, "x")}, bad).ok());
  CHECK(!render_chat({resp}, {}).ok());
}

TEST_CASE("chat: image, audio and video placeholders in user turns") {
  ChatMessage m;
  m.role = ChatRole::kUser;
  m.content = {{K::kText, " Describe this image: "}, {K::kImage, ""}, {K::kText, "and this clip"},
               {K::kVideo, ""}, {K::kText, "and this sound"}, {K::kAudio, ""}};
  ChatOptions opt;
  opt.add_bos = false;
  opt.add_generation_prompt = false;
  CHECK(render_ok({m}, opt) == "<|turn>user\nDescribe this image:\n\n<|image|>\n\nand this clip\n\n<|video|>\n\n"
                                "and this sound<|audio|><turn|>\n");
}

TEST_CASE("chat: parsing model replies into thoughts, content and tool calls") {
  auto r = parse_model_reply(
      "<|channel>thought\nThe user wants weather.<channel|>Let me check."
      "<|tool_call>call:get_weather{city:<|\"|>Paris, FR<|\"|>,days:2,opts:{metric:true,tags:[<|\"|>a<|\"|>,1]}}"
      "<tool_call|><|tool_call>call:noop{}<tool_call|><|tool_response>ignored");
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->reasoning == "The user wants weather.");
  CHECK(r->content == "Let me check.");
  REQUIRE(r->tool_calls.size() == 2);
  CHECK(r->tool_calls[0].name == "get_weather");
  CHECK(r->tool_calls[0].arguments_json ==
        R"({"city":"Paris, FR","days":2,"opts":{"metric":true,"tags":["a",1]}})");
  CHECK(r->tool_calls[1].name == "noop");
  CHECK(r->tool_calls[1].arguments_json == "{}");
  auto plain = parse_model_reply("Just an answer.<turn|>\ntrailing");
  REQUIRE(plain.ok());
  CHECK(plain->content == "Just an answer.");
  CHECK(plain->tool_calls.empty());
  CHECK(!parse_model_reply("<|tool_call>call:f{a:<|\"|>unterminated}<tool_call|>").ok());
  CHECK(!parse_model_reply("<|tool_call>call:f{a:1").ok());
  CHECK(!parse_model_reply("<|tool_call>nocall{}<tool_call|>").ok());
  // Value syntax round trip.
  const std::string json = R"({"a":[1,2.5,"x"],"b":{"c":null,"d":false}})";
  auto g = json_to_gemma_value(json);
  REQUIRE(g.ok());
  CHECK(*g == "{a:[1,2.5,<|\"|>x<|\"|>],b:{c:null,d:false}}");
  CHECK(gemma_value_to_json(*g).value() == json);
}

TEST_CASE("chat: rendered prompt tokenizes with the control tokens found by string") {
  auto tok = Tokenizer::load(std::string(GEMMA12B_GOLDEN_DIR) + "/text/tiny-gemma4.gguf");
  REQUIRE(tok.ok());
  const Tokenizer& t = **tok;
  const auto s = render_ok({ChatMessage::text(ChatRole::kUser, "hi")});
  const auto ids = t.encode(s, {.add_bos = false, .parse_special = true});
  REQUIRE(ids.size() > 4);
  CHECK(ids[0] == t.bos_id());
  CHECK(ids[1] == t.id_of("<|turn>"));
  CHECK(t.decode(ids) == s);
  int n_turn_close = 0;
  for (int32_t id : ids) n_turn_close += id == *t.id_of("<turn|>");
  CHECK(n_turn_close == 1);
}

}  // namespace
}  // namespace gemma12b
