"""SQLAlchemy 2 (psycopg and psycopg2 dialects) against a running CairnDB:
create_all, ORM insert/select/update/delete, and the inspector."""
import os
import sys

from sqlalchemy import Integer, MetaData, String, Table, create_engine, inspect, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "sa_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(30))


failed = 0
for driver in ("psycopg", "psycopg2"):
    try:
        url = f"postgresql+{driver}://root:{os.environ['CAIRN_PASSWORD']}@127.0.0.1:{os.environ['CAIRN_PORT']}/cairn"
        engine = create_engine(url)
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            session.add_all([Item(id=1, name="one"), Item(id=2, name="two")])
            session.commit()
            session.scalars(select(Item).where(Item.name == "two")).one().name = "deux"
            session.commit()
            session.delete(session.get(Item, 1))
            session.commit()
            rows = [(item.id, item.name) for item in session.scalars(select(Item))]
            assert rows == [(2, "deux")], rows
        inspector = inspect(engine)
        assert inspector.default_schema_name in inspector.get_schema_names(), inspector.get_schema_names()
        assert "sa_items" in inspector.get_table_names(), inspector.get_table_names()
        columns = [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns("sa_items")]
        # SERIAL (Integer primary key) is BIGINT in CairnDB (docs/tables.md).
        assert columns[1:] == [("name", "VARCHAR(30)", False)], columns
        assert inspector.get_pk_constraint("sa_items")["constrained_columns"] == ["id"]
        reflected = Table("sa_items", MetaData(), autoload_with=engine)
        assert [c.name for c in reflected.primary_key] == ["id"], reflected.primary_key
        engine.dispose()
        print(f"PASS sqlalchemy+{driver}")
    except Exception as error:  # report each dialect, then fail the run
        failed += 1
        print(f"FAIL sqlalchemy+{driver}: {type(error).__name__}: {error}")
print(f"sqlalchemy: {2 - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
