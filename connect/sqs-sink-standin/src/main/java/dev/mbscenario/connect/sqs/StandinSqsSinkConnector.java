package dev.mbscenario.connect.sqs;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.sink.SinkConnector;

/**
 * CI stand-in for the Nordstrom kafka-connect-sqs sink (com.nordstrom.kafka.connect.sqs.SqsSinkConnector).
 *
 * <p>It accepts the same {@code sqs.*} keys, so one connector template drives the real connector
 * (docker-compose) and this one (CI). Keys under {@code sqs.standin.*} exist only here and are
 * ignored by the real connector. See ../../../../../../README.md for the behavioural differences.
 */
public class StandinSqsSinkConnector extends SinkConnector {
    static final String VERSION = "0.2.0";

    // Keys shared with the Nordstrom connector.
    static final String QUEUE_URL = "sqs.queue.url";
    static final String REGION = "sqs.region";
    static final String ENDPOINT_URL = "sqs.endpoint.url";
    static final String ATTRS_ENABLED = "sqs.message.attributes.enabled";
    static final String ATTRS_INCLUDE = "sqs.message.attributes.include.list";
    // Stand-in only.
    static final String MAX_RETRIES = "sqs.standin.max.retries";
    static final String BACKOFF_MS = "sqs.standin.retry.backoff.ms";
    static final String BACKOFF_MAX_MS = "sqs.standin.retry.backoff.max.ms";
    static final String REQUEST_TIMEOUT_MS = "sqs.standin.request.timeout.ms";
    static final String BINARY_BODY = "sqs.standin.binary.body";
    static final String STRUCT_BODY = "sqs.standin.struct.body";

    static final ConfigDef CONFIG_DEF = new ConfigDef()
        .define(QUEUE_URL, Type.STRING, ConfigDef.NO_DEFAULT_VALUE, new ConfigDef.NonEmptyString(), Importance.HIGH,
            "URL of the SQS queue to send to.")
        .define(REGION, Type.STRING, "", Importance.MEDIUM,
            "AWS region; blank means AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1.")
        .define(ENDPOINT_URL, Type.STRING, "", Importance.MEDIUM,
            "SQS endpoint, e.g. http://127.0.0.1:4566 for LocalStack; blank means https://sqs.<region>.amazonaws.com.")
        .define(ATTRS_ENABLED, Type.BOOLEAN, false, Importance.MEDIUM,
            "Forward Kafka headers with a Connect STRING schema as SQS String message attributes.")
        .define(ATTRS_INCLUDE, Type.LIST, "", Importance.MEDIUM,
            "Header names to forward; empty means all.")
        .define(MAX_RETRIES, Type.INT, 8, ConfigDef.Range.atLeast(0), Importance.LOW,
            "Retries of a failed batch or of its failed entries before the task fails.")
        .define(BACKOFF_MS, Type.LONG, 100L, ConfigDef.Range.atLeast(1), Importance.LOW,
            "First retry delay; doubles on every retry.")
        .define(BACKOFF_MAX_MS, Type.LONG, 5000L, ConfigDef.Range.atLeast(1), Importance.LOW,
            "Upper bound of the retry delay.")
        .define(REQUEST_TIMEOUT_MS, Type.LONG, 30000L, ConfigDef.Range.atLeast(1), Importance.LOW,
            "HTTP request timeout.")
        .define(BINARY_BODY, Type.STRING, "base64", ConfigDef.ValidString.in("base64", "fail"), Importance.LOW,
            "byte[] values that are not valid SQS text (e.g. Avro binary): base64 them and add the String "
                + "attribute body_encoding=base64, or fail the task.")
        .define(STRUCT_BODY, Type.STRING, "json", ConfigDef.ValidString.in("json", "tostring"), Importance.LOW,
            "Struct/Map/List values (e.g. from AvroConverter): compact JSON text (schemas.enable=false style), "
                + "or Java toString() as the Nordstrom connector sends them.");

    private Map<String, String> props;

    @Override
    public String version() {
        return VERSION;
    }

    @Override
    public void start(Map<String, String> props) {
        new AbstractConfig(CONFIG_DEF, props); // fail fast on an invalid config
        this.props = new HashMap<>(props);
    }

    @Override
    public Class<? extends Task> taskClass() {
        return StandinSqsSinkTask.class;
    }

    @Override
    public List<Map<String, String>> taskConfigs(int maxTasks) {
        List<Map<String, String>> configs = new ArrayList<>(maxTasks);
        for (int i = 0; i < maxTasks; i++) {
            configs.add(new HashMap<>(props));
        }
        return configs;
    }

    @Override
    public void stop() {
    }

    @Override
    public ConfigDef config() {
        return CONFIG_DEF;
    }
}
