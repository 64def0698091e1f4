"""products, versions and order lines in both languages (Malay columns, filled from the English),
the full-text index over both; counters' phone and opening hours; the index for finding customers by name

Revision ID: b7d2e4f61a90
Revises: a14c0de5e001
Create Date: 2026-12-04 21:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'b7d2e4f61a90'
down_revision = 'a14c0de5e001'
branch_labels = None
depends_on = None

# As ebiz.catalog.models.SEARCH_VECTOR_SQL and ebiz.accounts.models.NAME_SEARCH_SQL (a migration
# never imports the application: the text is copied).
PRODUCT_SEARCH = ("to_tsvector('simple', name || ' ' || coalesce(name_ms, '') || ' ' || "
                  "coalesce(description, '') || ' ' || coalesce(description_ms, ''))")
PRODUCT_SEARCH_BEFORE = "to_tsvector('simple', name || ' ' || coalesce(description, ''))"
NAME_SEARCH = "to_tsvector('simple', full_name || ' ' || coalesce(company_name, ''))"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade():
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_ms', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('description_ms', sa.Text(), nullable=True))
    with op.batch_alter_table('product_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_notes_ms', sa.Text(), nullable=True))
    # Until staff write the Malay, a product reads as it did (its English) in both languages.
    op.execute("UPDATE product SET name_ms = name, description_ms = description")
    op.execute("UPDATE product_version SET change_notes_ms = change_notes")
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_ms', sa.String(length=200), nullable=True))
    op.execute("UPDATE order_line SET name_ms = name")  # as it was sold (the English, until then)
    with op.batch_alter_table('counter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('open_days', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('opens_at', sa.Time(), nullable=True))
        batch_op.add_column(sa.Column('closes_at', sa.Time(), nullable=True))
        batch_op.create_check_constraint(op.f('ck_counter_open_days'), "open_days IS NULL OR open_days IN ('mon-fri', 'sun-thu')")
    if _postgresql():
        op.execute('DROP INDEX IF EXISTS ix_product_search')
        op.create_index('ix_product_search', 'product', [sa.text(PRODUCT_SEARCH)],
                        postgresql_using='gin', postgresql_with={'fastupdate': 'off'})
        op.create_index('ix_user_account_name_search', 'user_account', [sa.text(NAME_SEARCH)],
                        postgresql_using='gin')


def downgrade():
    if _postgresql():
        op.execute('DROP INDEX IF EXISTS ix_user_account_name_search')
        op.execute('DROP INDEX IF EXISTS ix_product_search')
    with op.batch_alter_table('counter', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_counter_open_days'), type_='check')
        batch_op.drop_column('closes_at')
        batch_op.drop_column('opens_at')
        batch_op.drop_column('open_days')
        batch_op.drop_column('phone')
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.drop_column('name_ms')
    with op.batch_alter_table('product_version', schema=None) as batch_op:
        batch_op.drop_column('change_notes_ms')
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_column('description_ms')
        batch_op.drop_column('name_ms')
    if _postgresql():
        op.create_index('ix_product_search', 'product', [sa.text(PRODUCT_SEARCH_BEFORE)],
                        postgresql_using='gin', postgresql_with={'fastupdate': 'off'})
