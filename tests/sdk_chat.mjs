// Parlor's own AI SDK conformance check: one user message sent through the SDK's DefaultChatTransport,
// its answer assembled by readUIMessageStream, which rejects any chunk its schema or ordering refuses.
// Usage: node sdk_chat.mjs URL API_KEY CHAT_ID "user text" [MESSAGE_ID]
// Prints the assembled UIMessage as JSON on the first line and its text on the last ("TEXT: ...");
// exits 1 on a protocol error. A MESSAGE_ID lets a test send the same message twice (a retried POST).
import { DefaultChatTransport, readUIMessageStream } from 'ai';

const [url, key, chatId, text, messageId = `u-${Date.now()}`] = process.argv.slice(2);
const transport = new DefaultChatTransport({ api: url, headers: key ? { Authorization: `Bearer ${key}` } : {} });

async function assemble() {
  const stream = await transport.sendMessages({
    chatId,
    messages: [{ id: messageId, role: 'user', parts: [{ type: 'text', text }] }],
    trigger: 'submit-message',
    messageId: undefined,
    abortSignal: undefined,
  });
  let failure = null;
  let message = null;
  const onError = (error) => { failure = error; };
  for await (const assembled of readUIMessageStream({ stream, terminateOnError: true, onError })) message = assembled;
  if (failure) throw failure;
  if (!message) throw new Error('the stream assembled no message');
  return message;
}

try {
  const message = await assemble();
  console.log(JSON.stringify(message));
  console.log('TEXT:', message.parts.filter((p) => p.type === 'text').map((p) => p.text).join(''));
} catch (error) {
  console.error('PROTOCOL ERROR:', error?.message ?? error);
  process.exit(1);
}
