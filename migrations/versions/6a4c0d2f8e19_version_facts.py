"""each product version records its own format, CRS and coverage (filled from its product for existing ones)

Revision ID: 6a4c0d2f8e19
Revises: 2d7b4e9a1c36
Create Date: 2026-12-02 17:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = '6a4c0d2f8e19'
down_revision = '2d7b4e9a1c36'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('product_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_format', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('crs', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('coverage', sa.String(length=200), nullable=True))
    op.execute("""
        UPDATE product_version SET
            data_format = (SELECT p.data_format FROM product p WHERE p.id = product_version.product_id),
            crs = (SELECT p.crs FROM product p WHERE p.id = product_version.product_id),
            coverage = (SELECT CASE WHEN p.district IS NOT NULL AND p.district <> ''
                                    THEN p.state || ', ' || p.district ELSE p.state END
                        FROM product p WHERE p.id = product_version.product_id)
    """)


def downgrade():
    with op.batch_alter_table('product_version', schema=None) as batch_op:
        batch_op.drop_column('coverage')
        batch_op.drop_column('crs')
        batch_op.drop_column('data_format')
