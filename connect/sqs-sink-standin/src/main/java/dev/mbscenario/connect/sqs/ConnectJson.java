package dev.mbscenario.connect.sqs;

import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.Collection;
import java.util.Date;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamWriteFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.DecimalNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.errors.DataException;

/**
 * Connect data (a {@link Struct} with its {@link Schema}, or schemaless maps and lists) as compact JSON
 * text without the schema envelope: what JsonConverter writes with {@code schemas.enable=false}.
 *
 * <p>Logical types: Decimal as a plain JSON number (not base64), Timestamp as epoch milliseconds,
 * Date as days since the epoch, Time as milliseconds of the day. Bytes are base64 strings, map keys
 * are strings (a map with non-string keys in a schema becomes an array of [key, value] pairs), field
 * order is the schema's.
 */
final class ConnectJson {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final JsonMapper JSON = JsonMapper.builder()
        .enable(StreamWriteFeature.WRITE_BIGDECIMAL_AS_PLAIN)
        .build();

    private ConnectJson() {
    }

    /** True for values this class turns into a JSON object or array. */
    static boolean isStructured(Object value) {
        return value instanceof Struct || value instanceof Map || value instanceof Collection;
    }

    static String toJson(Schema schema, Object value) {
        try {
            return JSON.writeValueAsString(node(schema, value));
        } catch (JsonProcessingException e) {
            throw new DataException("cannot serialize to JSON", e);
        }
    }

    static JsonNode node(Schema schema, Object value) {
        if (value == null) {
            if (schema != null && schema.defaultValue() != null) {
                return node(schema, schema.defaultValue());
            }
            return NODES.nullNode();
        }
        if (value instanceof Struct) {
            Struct struct = (Struct) value;
            ObjectNode out = NODES.objectNode();
            for (Field f : struct.schema().fields()) {
                out.set(f.name(), node(f.schema(), struct.get(f)));
            }
            return out;
        }
        if (value instanceof Map) {
            Map<?, ?> map = (Map<?, ?>) value;
            Schema keySchema = schema != null && schema.type() == Schema.Type.MAP ? schema.keySchema() : null;
            Schema valueSchema = schema != null && schema.type() == Schema.Type.MAP ? schema.valueSchema() : null;
            boolean stringKeys = keySchema != null
                ? keySchema.type() == Schema.Type.STRING
                : map.keySet().stream().allMatch(k -> k instanceof String);
            if (stringKeys) {
                ObjectNode out = NODES.objectNode();
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    out.set((String) e.getKey(), node(valueSchema, e.getValue()));
                }
                return out;
            }
            ArrayNode pairs = NODES.arrayNode();
            for (Map.Entry<?, ?> e : map.entrySet()) {
                ArrayNode pair = NODES.arrayNode();
                pair.add(node(keySchema, e.getKey()));
                pair.add(node(valueSchema, e.getValue()));
                pairs.add(pair);
            }
            return pairs;
        }
        if (value instanceof Collection) {
            Schema items = schema != null && schema.type() == Schema.Type.ARRAY ? schema.valueSchema() : null;
            ArrayNode out = NODES.arrayNode();
            for (Object item : (Collection<?>) value) {
                out.add(node(items, item));
            }
            return out;
        }
        if (value instanceof BigDecimal) {
            return DecimalNode.valueOf((BigDecimal) value); // as is: no trailing-zero stripping
        }
        if (value instanceof Date) {
            long millis = ((Date) value).getTime();
            String logical = schema == null ? null : schema.name();
            if (org.apache.kafka.connect.data.Date.LOGICAL_NAME.equals(logical)) {
                return NODES.numberNode(Math.floorDiv(millis, 86_400_000L));
            }
            if (org.apache.kafka.connect.data.Time.LOGICAL_NAME.equals(logical)) {
                return NODES.numberNode(Math.floorMod(millis, 86_400_000L));
            }
            return NODES.numberNode(millis);
        }
        if (value instanceof byte[]) {
            return NODES.textNode(Base64.getEncoder().encodeToString((byte[]) value));
        }
        if (value instanceof ByteBuffer) {
            ByteBuffer b = ((ByteBuffer) value).duplicate();
            byte[] bytes = new byte[b.remaining()];
            b.get(bytes);
            return NODES.textNode(Base64.getEncoder().encodeToString(bytes));
        }
        if (value instanceof String) {
            return NODES.textNode((String) value);
        }
        if (value instanceof Boolean) {
            return NODES.booleanNode((Boolean) value);
        }
        if (value instanceof Byte || value instanceof Short || value instanceof Integer) {
            return NODES.numberNode(((Number) value).intValue());
        }
        if (value instanceof Long) {
            return NODES.numberNode((Long) value);
        }
        if (value instanceof Float || value instanceof Double) {
            double d = ((Number) value).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                return NODES.textNode(Double.toString(d)); // JSON has no NaN/Infinity
            }
            return value instanceof Float ? NODES.numberNode((Float) value) : NODES.numberNode(d);
        }
        return NODES.textNode(value.toString());
    }
}
