// Sends one user message with a given id through the AI SDK's own transport and parser, so a test
// can send the same message twice (a retried POST) and compare what the SDK assembled.
// Usage: node sdk_resend.mjs URL API_KEY CHAT_ID MESSAGE_ID "user text"
import { DefaultChatTransport, readUIMessageStream } from 'ai';

const [url, key, chatId, messageId, text] = process.argv.slice(2);
const transport = new DefaultChatTransport({ api: url, headers: { Authorization: `Bearer ${key}` } });
let failed = null;
try {
  const stream = await transport.sendMessages({
    chatId,
    messages: [{ id: messageId, role: 'user', parts: [{ type: 'text', text }] }],
    trigger: 'submit-message',
    messageId: undefined,
    abortSignal: undefined,
  });
  let last = null;
  for await (const msg of readUIMessageStream({ stream, terminateOnError: true, onError: (e) => { failed = e; } })) last = msg;
  if (failed) throw failed;
  if (!last) throw new Error('no message assembled from the stream');
  console.log(JSON.stringify(last));
} catch (e) {
  console.error('PROTOCOL ERROR:', e?.message ?? e);
  process.exit(1);
}
