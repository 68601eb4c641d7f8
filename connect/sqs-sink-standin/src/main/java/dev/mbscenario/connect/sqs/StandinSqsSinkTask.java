package dev.mbscenario.connect.sqs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.header.Header;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends records to SQS in SendMessageBatch calls of at most 10 entries.
 *
 * <p>Delivery contract: {@link #put} returns only after SQS accepted every record it was given (the
 * worker then commits their offsets); otherwise it retries with exponential backoff and, once the
 * retries are spent, throws a {@link ConnectException} so the task FAILS. A record is never dropped
 * without a log line: the only records not sent are null/empty values, which SQS cannot carry and
 * which the Nordstrom connector skips too (logged at WARN here).
 */
public class StandinSqsSinkTask extends SinkTask {
    private static final Logger log = LoggerFactory.getLogger(StandinSqsSinkTask.class);
    private static final int MAX_BATCH_ENTRIES = 10;
    private static final int MAX_BATCH_BYTES = 256 * 1024;

    private SqsJsonClient client;
    private String queueUrl;
    private boolean fifo;
    private boolean attributesEnabled;
    private Set<String> include;
    private int maxRetries;
    private long backoffMs;
    private long backoffMaxMs;
    private boolean base64Binary;
    private boolean jsonStructs;
    private final Set<String> warnedHeaders = ConcurrentHashMap.newKeySet();

    @Override
    public String version() {
        return StandinSqsSinkConnector.VERSION;
    }

    @Override
    public void start(Map<String, String> props) {
        AbstractConfig c = new AbstractConfig(StandinSqsSinkConnector.CONFIG_DEF, props);
        queueUrl = c.getString(StandinSqsSinkConnector.QUEUE_URL);
        fifo = queueUrl.endsWith(".fifo");
        attributesEnabled = c.getBoolean(StandinSqsSinkConnector.ATTRS_ENABLED);
        include = new HashSet<>(c.getList(StandinSqsSinkConnector.ATTRS_INCLUDE));
        include.remove("");
        maxRetries = c.getInt(StandinSqsSinkConnector.MAX_RETRIES);
        backoffMs = c.getLong(StandinSqsSinkConnector.BACKOFF_MS);
        backoffMaxMs = c.getLong(StandinSqsSinkConnector.BACKOFF_MAX_MS);
        base64Binary = "base64".equals(c.getString(StandinSqsSinkConnector.BINARY_BODY));
        jsonStructs = "json".equals(c.getString(StandinSqsSinkConnector.STRUCT_BODY));
        String region = firstNonEmpty(c.getString(StandinSqsSinkConnector.REGION),
            System.getenv("AWS_REGION"), System.getenv("AWS_DEFAULT_REGION"), "us-east-1");
        String endpoint = firstNonEmpty(c.getString(StandinSqsSinkConnector.ENDPOINT_URL),
            "https://sqs." + region + ".amazonaws.com");
        client = new SqsJsonClient(endpoint, region,
            Duration.ofMillis(c.getLong(StandinSqsSinkConnector.REQUEST_TIMEOUT_MS)));
        log.info("SQS sink stand-in started: queue={} endpoint={} region={} attributes={} include={} structs={}",
            queueUrl, endpoint, region, attributesEnabled, include.isEmpty() ? "(all)" : include,
            jsonStructs ? "json" : "tostring");
    }

    @Override
    public void put(Collection<SinkRecord> records) {
        List<SqsJsonClient.Entry> batch = new ArrayList<>(MAX_BATCH_ENTRIES);
        int batchBytes = 0;
        for (SinkRecord record : records) {
            SqsJsonClient.Entry entry = toEntry(record);
            if (entry == null) {
                continue;
            }
            int size = sizeOf(entry);
            if (!batch.isEmpty() && (batch.size() == MAX_BATCH_ENTRIES || batchBytes + size > MAX_BATCH_BYTES)) {
                send(batch);
                batch = new ArrayList<>(MAX_BATCH_ENTRIES);
                batchBytes = 0;
            }
            batch.add(entry.withId(Integer.toString(batch.size())));
            batchBytes += size;
        }
        if (!batch.isEmpty()) {
            send(batch);
        }
    }

    /** Sends one batch, retrying the whole call or just its failed entries; throws when retries run out. */
    private void send(List<SqsJsonClient.Entry> batch) {
        List<SqsJsonClient.Entry> pending = batch;
        for (int attempt = 0; ; attempt++) {
            String problem;
            try {
                List<SqsJsonClient.Failure> failures = client.sendMessageBatch(queueUrl, pending);
                if (failures.isEmpty()) {
                    return;
                }
                Map<String, SqsJsonClient.Entry> byId = new LinkedHashMap<>();
                pending.forEach(e -> byId.put(e.id, e));
                List<SqsJsonClient.Entry> again = new ArrayList<>();
                for (SqsJsonClient.Failure f : failures) {
                    SqsJsonClient.Entry e = byId.get(f.id);
                    if (e == null) {
                        throw new ConnectException("SQS reported a failure for unknown batch entry id " + f.id + ": " + f);
                    }
                    again.add(e);
                }
                pending = again;
                problem = failures.size() + " of the batch's entries failed, first " + pending.get(0).origin + " -> " + failures.get(0);
            } catch (IOException e) {
                problem = "SendMessageBatch failed: " + e.getMessage();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ConnectException("interrupted while sending to " + queueUrl, e);
            }
            if (attempt >= maxRetries) {
                throw new ConnectException("giving up on " + pending.size() + " record(s) for " + queueUrl + " after "
                    + (attempt + 1) + " attempts (records from " + pending.get(0).origin + "): " + problem);
            }
            long delay = Math.min(backoffMaxMs, backoffMs << Math.min(attempt, 20));
            log.warn("retry {}/{} in {} ms: {}", attempt + 1, maxRetries, delay, problem);
            try {
                Thread.sleep(delay);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ConnectException("interrupted while waiting to retry " + queueUrl, e);
            }
        }
    }

    private SqsJsonClient.Entry toEntry(SinkRecord r) {
        String origin = r.topic() + "-" + r.kafkaPartition() + "@" + r.kafkaOffset();
        String body;
        Map<String, String> attributes = new LinkedHashMap<>();
        Object v = r.value();
        if (v instanceof byte[]) {
            byte[] bytes = (byte[]) v;
            body = sqsText(bytes);
            if (body == null) {
                if (!base64Binary) {
                    throw new ConnectException("record " + origin + " is binary, not valid SQS text, and "
                        + StandinSqsSinkConnector.BINARY_BODY + "=fail");
                }
                body = Base64.getEncoder().encodeToString(bytes);
                attributes.put("body_encoding", "base64");
            }
        } else if (jsonStructs && ConnectJson.isStructured(v)) {
            // A Struct (AvroConverter, JsonConverter with schemas) or a schemaless Map/List: JSON text.
            try {
                body = ConnectJson.toJson(r.valueSchema(), v);
            } catch (RuntimeException e) {
                throw new ConnectException("record " + origin + ": cannot write its value as JSON: " + e, e);
            }
        } else {
            body = v == null ? "" : v.toString();
        }
        if (body.isEmpty()) {
            log.warn("skipping record {} with an empty value (SQS cannot carry an empty body)", origin);
            return null;
        }
        if (attributesEnabled) {
            for (Header h : r.headers()) {
                if (!include.isEmpty() && !include.contains(h.key())) {
                    continue;
                }
                // Same rule as the Nordstrom connector: only headers whose Connect schema equals
                // Schema.STRING_SCHEMA. With the default SimpleHeaderConverter a header like "7" becomes
                // INT8 and is skipped; say so once per header name.
                if (Schema.STRING_SCHEMA.equals(h.schema()) && h.value() != null) {
                    attributes.put(h.key(), (String) h.value());
                } else if (warnedHeaders.add(h.key())) {
                    log.warn("header '{}' is not forwarded: its Connect schema is {} (only STRING_SCHEMA headers "
                        + "become SQS attributes, as with the Nordstrom connector)", h.key(),
                        h.schema() == null ? "null" : h.schema().type() + (h.schema().isOptional() ? " (optional)" : ""));
                }
            }
        }
        String groupId = null;
        String dedupId = null;
        if (fifo) { // Nordstrom: group = key (or topic), deduplication id = topic-partition-offset
            groupId = r.key() == null || r.key().toString().isEmpty() ? r.topic() : r.key().toString();
            dedupId = r.topic() + "-" + r.kafkaPartition() + "-" + r.kafkaOffset();
        }
        return new SqsJsonClient.Entry("", body, attributes, groupId, dedupId, origin);
    }

    /** The bytes as a string if they are UTF-8 made only of characters SQS accepts, else null. */
    static String sqsText(byte[] bytes) {
        String s;
        try {
            s = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            boolean ok = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF)
                || (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
            if (!ok) {
                return null;
            }
            i += Character.charCount(cp);
        }
        return s;
    }

    private static int sizeOf(SqsJsonClient.Entry e) {
        int n = e.body.getBytes(StandardCharsets.UTF_8).length;
        for (Map.Entry<String, String> a : e.attributes.entrySet()) {
            n += a.getKey().length() + "String".length() + a.getValue().getBytes(StandardCharsets.UTF_8).length;
        }
        return n;
    }

    private static String firstNonEmpty(String... values) {
        for (String v : values) {
            if (v != null && !v.isEmpty()) {
                return v;
            }
        }
        return "";
    }

    @Override
    public void stop() {
        log.info("SQS sink stand-in stopped");
    }
}
