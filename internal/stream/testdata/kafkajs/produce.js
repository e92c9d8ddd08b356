// Produces N JSON records with kafkajs into TOPIC on BROKERS, keyed and
// with a header, then exits: a client other than franz-go writing into a
// topic that an edp pipeline ingests.
//   node produce.js BROKERS TOPIC N
const { Kafka, logLevel } = require('kafkajs');

async function main() {
  const [brokers, topic, n] = process.argv.slice(2);
  const kafka = new Kafka({ clientId: 'edp-test-kafkajs', brokers: brokers.split(','), logLevel: logLevel.ERROR });
  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < Number(n); i++) {
    messages.push({
      key: `user-${i % 7}`,
      value: JSON.stringify({ id: i, user: `user-${i % 7}`, amount: i * 1.5, source: 'kafkajs' }),
      headers: { origin: 'node' },
    });
  }
  // In a few sends, so the records span several batches.
  for (let i = 0; i < messages.length; i += 25) {
    await producer.send({ topic, messages: messages.slice(i, i + 25) });
  }
  await producer.disconnect();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
