"""``explain=analyze`` runs the compiled statement under EXPLAIN ANALYZE in a read-only
transaction that is always rolled back: a real transaction when none is open (how the web process
runs it), a savepoint inside an open one; either way the connection stays writable afterwards."""

import pytest
from django.db import DatabaseError, connection

from inventory import query as Q
from inventory.models import Environment

WRITING = Q.Compiled(
    entity="environments",
    sql="INSERT INTO inventory_environment (name) VALUES (%(p0)s) RETURNING id",
    params={"p0": "explained"},
    count_sql="SELECT 0",
)


def check_read_only_and_rolled_back():
    with pytest.raises(DatabaseError, match="read-only transaction"):
        Q.explain_analyze(WRITING)
    assert not Environment.objects.filter(name="explained").exists()
    Environment.objects.create(name="production")
    plans, total = Q.explain_analyze(Q.build("environments", ["=", "name", "production"]), include_total=True)
    assert total == 1 and plans[0]["query plan"][0]["Plan"]["Actual Rows"] == 1
    with connection.cursor() as cursor:
        cursor.execute("SHOW transaction_read_only")
        assert cursor.fetchone()[0] == "off"
    Environment.objects.create(name="staging")  # still writable
    assert Environment.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_explain_in_autocommit_mode():
    assert connection.get_autocommit() and not connection.in_atomic_block
    check_read_only_and_rolled_back()
    assert connection.get_autocommit() and not connection.in_atomic_block


@pytest.mark.django_db
def test_explain_inside_an_open_transaction():
    assert connection.in_atomic_block
    check_read_only_and_rolled_back()
