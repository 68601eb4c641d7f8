package dev.mbscenario.connect.sqs;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Minimal SQS client speaking the AWS JSON 1.0 protocol (what current AWS SDKs use for SQS).
 *
 * <p>Requests are not signed: the Authorization header only has the SigV4 shape, which is what
 * LocalStack reads to pick the region and account. Real AWS rejects it, and that is intended: the
 * stand-in exists for emulators only.
 */
final class SqsJsonClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final DateTimeFormatter AMZ_DATE = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'");

    /** One message of a SendMessageBatch call. {@code id} is unique within its batch. */
    static final class Entry {
        final String id;
        final String body;
        final Map<String, String> attributes;
        final String groupId;      // FIFO queues only
        final String dedupId;      // FIFO queues only
        final String origin;       // topic-partition@offset, for error messages

        Entry(String id, String body, Map<String, String> attributes, String groupId, String dedupId, String origin) {
            this.id = id;
            this.body = body;
            this.attributes = attributes;
            this.groupId = groupId;
            this.dedupId = dedupId;
            this.origin = origin;
        }

        Entry withId(String newId) {
            return new Entry(newId, body, attributes, groupId, dedupId, origin);
        }
    }

    /** An entry SQS did not accept, or every entry of a call that failed as a whole. */
    static final class Failure {
        final String id;
        final String code;
        final String message;

        Failure(String id, String code, String message) {
            this.id = id;
            this.code = code;
            this.message = message;
        }

        @Override
        public String toString() {
            return code + ": " + message;
        }
    }

    private final HttpClient http;
    private final URI endpoint;
    private final String region;
    private final String accessKey;
    private final Duration timeout;

    SqsJsonClient(String endpoint, String region, Duration timeout) {
        this.endpoint = URI.create(endpoint.endsWith("/") ? endpoint : endpoint + "/");
        this.region = region;
        String ak = System.getenv("AWS_ACCESS_KEY_ID");
        this.accessKey = ak == null || ak.isEmpty() ? "test" : ak;
        this.timeout = timeout;
        this.http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(timeout)
            .build();
    }

    /**
     * Sends one batch (at most 10 entries). Returns the entries SQS rejected; an empty list means all
     * were accepted. Throws IOException when the call as a whole failed (network, HTTP status).
     */
    List<Failure> sendMessageBatch(String queueUrl, List<Entry> entries) throws IOException, InterruptedException {
        ObjectNode req = JSON.createObjectNode();
        req.put("QueueUrl", queueUrl);
        ArrayNode list = req.putArray("Entries");
        for (Entry e : entries) {
            ObjectNode n = list.addObject();
            n.put("Id", e.id);
            n.put("MessageBody", e.body);
            if (!e.attributes.isEmpty()) {
                ObjectNode attrs = n.putObject("MessageAttributes");
                for (Map.Entry<String, String> a : e.attributes.entrySet()) {
                    attrs.putObject(a.getKey()).put("DataType", "String").put("StringValue", a.getValue());
                }
            }
            if (e.groupId != null) {
                n.put("MessageGroupId", e.groupId);
                n.put("MessageDeduplicationId", e.dedupId);
            }
        }
        JsonNode resp = call("SendMessageBatch", req);
        List<Failure> failures = new ArrayList<>();
        for (JsonNode f : resp.path("Failed")) {
            failures.add(new Failure(f.path("Id").asText(), f.path("Code").asText("Unknown"), f.path("Message").asText("")));
        }
        return failures;
    }

    private JsonNode call(String action, ObjectNode body) throws IOException, InterruptedException {
        String now = ZonedDateTime.now(ZoneOffset.UTC).format(AMZ_DATE);
        HttpRequest request = HttpRequest.newBuilder(endpoint)
            .timeout(timeout)
            .header("Content-Type", "application/x-amz-json-1.0")
            .header("X-Amz-Target", "AmazonSQS." + action)
            .header("X-Amz-Date", now)
            .header("Authorization", "AWS4-HMAC-SHA256 Credential=" + accessKey + "/" + now.substring(0, 8) + "/" + region
                + "/sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
                + "0".repeat(64))
            .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)))
            .build();
        HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        String text = new String(response.body(), StandardCharsets.UTF_8);
        if (response.statusCode() != 200) {
            String type = "";
            try {
                JsonNode err = JSON.readTree(text);
                type = err.path("__type").asText("") + ": " + err.path("message").asText(err.path("Message").asText(""));
            } catch (IOException notJson) {
                type = text.length() > 200 ? text.substring(0, 200) : text;
            }
            throw new IOException(action + " to " + endpoint + " returned HTTP " + response.statusCode() + " " + type);
        }
        return JSON.readTree(text);
    }
}
