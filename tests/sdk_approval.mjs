// A tool approval through the AI SDK's own chat (AbstractChat, what useChat wraps): one user message sent, the
// approval it asks for answered with addToolApprovalResponse, and the answer sent by the SDK itself
// (sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses), streamed into the same message.
// Usage: node sdk_approval.mjs URL API_KEY CHAT_ID "user text" approve|deny|none [REASON]
// ("none": stop once the approval is asked.) Prints "ASKED: <messages>" once asked, "DONE: <messages>" at the
// end, and "VALID" when validateUIMessages takes them; exits 1 on a protocol or chat error.
import {
  AbstractChat,
  DefaultChatTransport,
  lastAssistantMessageIsCompleteWithApprovalResponses,
  validateUIMessages,
} from 'ai';

const [url, key, chatId, text, decision, reason] = process.argv.slice(2);

class State {
  constructor() { this.messages = []; this.status = 'ready'; this.error = undefined; }
  pushMessage(m) { this.messages = [...this.messages, m]; }
  popMessage() { this.messages = this.messages.slice(0, -1); }
  replaceMessage(i, m) { this.messages = this.messages.map((old, j) => (j === i ? m : old)); }
  snapshot(thing) { return structuredClone(thing); }
}

class Chat extends AbstractChat {}

let failure = null;
const chat = new Chat({
  id: chatId,
  state: new State(),
  transport: new DefaultChatTransport({ api: url, headers: key ? { Authorization: `Bearer ${key}` } : {} }),
  sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
  onError: (error) => { failure = error; },
});

const asked = (m) => m.parts.filter((p) => p.state === 'approval-requested');

async function settled() {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const waiting = chat.lastMessage?.parts.some((p) => p.state === 'approval-responded');
    if (chat.status === 'error' || (chat.status === 'ready' && !waiting)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the answer to the approval never ended');
}

try {
  await chat.sendMessage({ text });
  if (failure) throw failure;
  console.log('ASKED:', JSON.stringify(chat.messages));
  if (decision !== 'none') {
    for (const part of asked(chat.lastMessage)) {
      await chat.addToolApprovalResponse({ id: part.approval.id, approved: decision === 'approve', reason });
    }
    await settled();
    if (failure) throw failure;
  }
  console.log('DONE:', JSON.stringify(chat.messages));
  await validateUIMessages({ messages: chat.messages });
  console.log('VALID');
} catch (error) {
  console.error('PROTOCOL ERROR:', error?.message ?? error);
  process.exit(1);
}
