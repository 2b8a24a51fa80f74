export { Chat, createChat, type ChatGenerateOptions, type ChatInput, type ChatReply, type CreateChatOptions } from "./create-chat.js";
export { OutputStream, type OutputStreamOptions } from "./output-stream.js";
export { StopStrings } from "./stop-strings.js";
export { templateMessages, type OpenAIMessage } from "./openai-messages.js";
