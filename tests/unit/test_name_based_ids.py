import random
import uuid

from services.router.name_based_ids import uuid5_text


def test_given_any_namespace_and_name_then_uuid5_text_is_str_of_uuid5():
    rng = random.Random(5)
    namespaces = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(8)]
    names = ["", "c-1:2026.11.23-4", "ünïcödé:🙂", *(
        "".join(chr(rng.randrange(1, 0xD7FF)) for _ in range(rng.randrange(60)))
        for _ in range(2000))]
    for i, name in enumerate(names):
        namespace = namespaces[i % len(namespaces)]
        assert uuid5_text(namespace, name) == str(uuid.uuid5(namespace, name))
