// tests/node/lib/smtp.mjs — a real SMTP server on loopback (npm smtp-server) for the e-mail
// tests, whose answers a test can set: refuse the next N messages with a code (4xx, then
// accept), or refuse every one (5xx). Each message it accepts is parsed by mailparser, a MIME
// parser independent of scrollkeep's own composition.
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export async function startSmtp(port = 0) {
  const box = { received: [], refuse: null, server: null, port: 0 };
  const make = () => new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', async () => {
        if (box.refuse && box.refuse.times !== 0) {
          if (box.refuse.times > 0) box.refuse.times--;
          const err = new Error(box.refuse.text ?? 'not now');
          err.responseCode = box.refuse.code;
          return callback(err);
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const parsed = await simpleParser(raw);
        box.received.push({ raw, parsed, envelope: session.envelope });
        return callback(null, `Ok: queued as TEST${box.received.length}`);
      });
    },
  });
  box.start = async (p) => {
    box.server = make();
    // A client that resets its connection (the fault suite stops the server under it) is not
    // a test failure: without a listener the reset would be an uncaught 'error'.
    box.server.on('error', () => {});
    await new Promise((resolve) => box.server.listen(p, '127.0.0.1', resolve));
    box.port = box.server.server.address().port;
    box.url = `smtp://127.0.0.1:${box.port}`;
  };
  box.stop = () => new Promise((resolve) => box.server.close(resolve));
  await box.start(port);
  return box;
}
